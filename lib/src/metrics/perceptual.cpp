// perceptual.cpp - LPIPS and FID feature networks from user-supplied TorchScript files
// (scvae/perceptual.h).
#include <torch/script.h>

#include <sstream>

#include "scvae/error.h"
#include "scvae/perceptual.h"
#include "model/networks.h"

namespace scvae {

struct PerceptualNet::Impl {
    std::string path;
    Kind kind = Kind::Features;
    torch::jit::Module module;
    torch::Device device{torch::kCPU};
    int64_t dim = -1;  // feature dimension, fixed by the first image
};

namespace {

std::string shape_text(const torch::Tensor& t) {
    std::ostringstream s;
    s << "[";
    for (int64_t i = 0; i < t.dim(); ++i) s << (i ? ", " : "") << t.size(i);
    s << "]";
    return s.str();
}

// RGB image -> 1x3xHxW float32 in [0,1].
torch::Tensor to_unit_tensor(const Image& img, const torch::Device& device) {
    const Image rgb = img.channels == 3 ? img : to_rgb(img);
    auto t = torch::from_blob(const_cast<float*>(rgb.data.data()), {rgb.height, rgb.width, 3}, torch::kFloat32)
                 .permute({2, 0, 1})
                 .unsqueeze(0)
                 .contiguous()
                 .clone();
    return t.to(device);
}

torch::Tensor output_tensor(const torch::jit::IValue& v, const std::string& path) {
    if (v.isTensor()) return v.toTensor();
    if (v.isTuple() && !v.toTuple()->elements().empty() && v.toTuple()->elements()[0].isTensor())
        return v.toTuple()->elements()[0].toTensor();
    if (v.isList() && v.toList().size() > 0 && v.toList().get(0).isTensor()) return v.toList().get(0).toTensor();
    throw Error(path + ": the network returned " + v.tagKind() + ", expected a tensor");
}

}  // namespace

PerceptualNet::PerceptualNet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PerceptualNet::PerceptualNet(PerceptualNet&&) noexcept = default;
PerceptualNet& PerceptualNet::operator=(PerceptualNet&&) noexcept = default;
PerceptualNet::~PerceptualNet() = default;

PerceptualNet PerceptualNet::load(const std::string& path, Kind kind, Device device) {
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->kind = kind;
    impl->device = device == Device::CUDA ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
    try {
        impl->module = torch::jit::load(path, impl->device);
    } catch (const c10::Error& e) {
        std::string msg = e.what_without_backtrace();
        const size_t nl = msg.find('\n');
        if (nl != std::string::npos) msg.resize(nl);
        throw Error(path + ": not a TorchScript file that can be loaded (" + msg + ")");
    }
    impl->module.eval();
    return PerceptualNet(std::move(impl));
}

std::vector<double> PerceptualNet::features(const Image& img) {
    Impl& m = *impl_;
    torch::Tensor out;
    try {
        torch::NoGradGuard ng;
        out = output_tensor(m.module.forward({to_unit_tensor(img, m.device)}), m.path);
    } catch (const c10::Error& e) {
        std::string msg = e.what_without_backtrace();
        throw Error(m.path + ": the feature network failed on a 1x3x" + std::to_string(img.height) + "x" +
                    std::to_string(img.width) + " input: " + msg.substr(0, msg.find('\n')));
    }
    const bool ok = out.dim() >= 2 && out.size(0) == 1 &&
                    (out.dim() == 2 || (out.dim() == 4 && out.size(2) == 1 && out.size(3) == 1));
    if (!ok)
        throw Error(m.path + ": output shape " + shape_text(out) +
                    " is not [1, D] or [1, D, 1, 1] (a FID network returns one pooled feature vector per image)");
    const int64_t D = out.size(1);
    if (m.dim >= 0 && D != m.dim)
        throw Error(m.path + ": feature dimension changed from " + std::to_string(m.dim) + " to " + std::to_string(D));
    m.dim = D;
    auto f = out.reshape({D}).to(torch::kCPU, torch::kFloat64).contiguous();
    const double* p = f.data_ptr<double>();
    std::vector<double> v(p, p + D);
    for (double x : v)
        if (!std::isfinite(x)) throw Error(m.path + ": the feature network returned a non-finite value");
    return v;
}

double PerceptualNet::distance(const Image& a, const Image& b) {
    Impl& m = *impl_;
    torch::Tensor out;
    try {
        torch::NoGradGuard ng;
        auto x = to_unit_tensor(a, m.device) * 2 - 1;
        auto y = to_unit_tensor(b, m.device) * 2 - 1;
        out = output_tensor(m.module.forward({x, y}), m.path);
    } catch (const c10::Error& e) {
        std::string msg = e.what_without_backtrace();
        throw Error(m.path + ": the LPIPS network failed on two 1x3x" + std::to_string(a.height) + "x" +
                    std::to_string(a.width) + " inputs: " + msg.substr(0, msg.find('\n')));
    }
    if (out.numel() != 1)
        throw Error(m.path + ": output shape " + shape_text(out) +
                    " is not one number per pair (expected [], [1], [1, 1] or [1, 1, 1, 1])");
    const double v = out.to(torch::kCPU, torch::kFloat64).item<double>();
    if (!std::isfinite(v)) throw Error(m.path + ": the LPIPS network returned a non-finite value");
    return v;
}

}  // namespace scvae
