// codec.cpp - the model file, the fingerprint, image <-> tensor and the Codec (images <-> code records).
//
// Model file layout (".scvm", version 1; all integers little-endian):
//
//   offset 0   8 bytes   magic "SCVAEMDL"
//          8   u32       format version (1)
//         12   u32       J: length of the JSON header in bytes
//         16   J bytes   UTF-8 JSON header:
//                          {"format":"scvae-model","version":1,
//                           "config":{...ModelConfig...},
//                           "fingerprint":"<16 hex digits>",
//                           "meta":{...free-form...},
//                           "tensors":[{"name":"encoder.body.0.weight","shape":[32,3,3,3],"dtype":"f32"|"f16",
//                                       "offset":0,"bytes":3456,"buffer":false}, ...]}
//     16 + J   data      raw little-endian tensor data; "offset" counts from the start of this section,
//                        tensors are stored back to back in the listed order
//       end-4  u32       CRC-32 (zlib) of every byte before it
//
// Every parameter and buffer of the network is stored under its LibTorch name (named_parameters() then
// named_buffers()). With half-precision storage the parameters are stored as IEEE binary16; buffers (the fixed
// DCT dictionary) always as f32; every -0 is stored as +0. The fingerprint (compute_fingerprint) is a 64-bit
// FNV-1a hash (standard offset basis) of the canonical config JSON and every tensor's name, shape and float32
// values *as stored*, i.e. after rounding to the stored precision and with -0 as +0, so save -> load ->
// fingerprint gives the same value on every CPU. Files written before that (legacy offset basis, raw bytes)
// still load and keep their stored fingerprint. Loading checks, in order: magic,
// version, sizes, JSON, CRC, config, tensor names and shapes, and the fingerprint.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <random>
#include <sstream>

#include "scvae/error.h"
#include "scvae/io.h"
#include "scvae/runtime.h"
#include "io/bytes.h"
#include "model/file.h"
#include "model/networks.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the model file reader assumes a little-endian host");

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace scvae {

namespace F = torch::nn::functional;

namespace {

constexpr const char* kMagic = kModelMagic;
constexpr uint32_t kFileVersion = kModelFileVersion;

struct NamedTensor {
    std::string name;
    torch::Tensor t;
    bool buffer = false;
};

std::vector<NamedTensor> named_tensors(SCVAE& net) {
    std::vector<NamedTensor> v;
    for (const auto& p : net->named_parameters(true)) v.push_back({p.key(), p.value(), false});
    for (const auto& b : net->named_buffers(true)) v.push_back({b.key(), b.value(), true});
    return v;
}

// 64-bit FNV-1a with the standard offset basis and prime (see scvae-model(5), FINGERPRINT).
constexpr uint64_t kFnvOffsetBasis = 14695981039346656037ULL;
// The offset basis of files written before the fingerprint was fixed: one digit short of the standard one,
// over the raw bytes (-0 and +0 apart). Such files still load (see load_model_file).
constexpr uint64_t kLegacyFnvOffsetBasis = 1469598103934665603ULL;

struct Fnv {
    uint64_t h = kFnvOffsetBasis;
    void add(const void* data, size_t n) {
        const auto* p = static_cast<const uint8_t*>(data);
        uint64_t x = h;
        for (size_t i = 0; i < n; ++i) {
            x ^= p[i];
            x *= 1099511628211ULL;
        }
        h = x;
    }
    std::string hex() const {
        char buf[17];
        std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
        return buf;
    }
};

// Turns every -0 of a contiguous CPU float32 or float16 tensor into +0, in place: the sign of a zero is an
// accident of the summation kernel, not a property of the model.
void canonicalise_zeros_(torch::Tensor& t) {
    if (t.scalar_type() == torch::kFloat32) {
        auto* p = static_cast<uint32_t*>(t.data_ptr());
        for (int64_t i = 0, n = t.numel(); i < n; ++i)
            if (p[i] == 0x80000000u) p[i] = 0;
    } else if (t.scalar_type() == torch::kHalf) {
        auto* p = static_cast<uint16_t*>(t.data_ptr());
        for (int64_t i = 0, n = t.numel(); i < n; ++i)
            if (p[i] == 0x8000u) p[i] = 0;
    }
}

enum class FingerprintKind { Current, Legacy };

// Fingerprint of a config and a list of float32 CPU tensors (already rounded to their stored precision).
std::string fingerprint_of(const ModelConfig& cfg, const std::vector<NamedTensor>& tensors,
                           FingerprintKind kind = FingerprintKind::Current) {
    const bool legacy = kind == FingerprintKind::Legacy;
    Fnv f;
    if (legacy) f.h = kLegacyFnvOffsetBasis;
    std::string cj = cfg.to_json().dump();
    f.add(cj.data(), cj.size());
    for (const auto& nt : tensors) {
        f.add(nt.name.data(), nt.name.size() + 1);  // with the terminating NUL
        auto t = nt.t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
        if (!legacy) {
            t = t.clone();
            canonicalise_zeros_(t);
        }
        int64_t dims = t.dim();
        f.add(&dims, sizeof(dims));
        for (auto s : t.sizes()) {
            int64_t x = s;
            f.add(&x, sizeof(x));
        }
        f.add(t.data_ptr<float>(), static_cast<size_t>(t.numel()) * sizeof(float));
    }
    return f.hex();
}

// The random initial weights, drawn with plain integer and double arithmetic so that a seed gives the same
// bits on every CPU: LibTorch's own uniform_ kernel is compiled once per CPU capability (ATEN_CPU_CAPABILITY)
// and its float arithmetic differs in the last bit between them. The distribution is LibTorch's default for
// convolutions (kaiming_uniform_ with a = sqrt(5), and the bias): U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the
// weight and the bias alike. Norm layers (weight 1, bias 0) and the LISTA parts (fixed) are left as built.
void init_random_weights(SCVAE& net, uint64_t seed) {
    torch::NoGradGuard ng;
    std::mt19937_64 rng(seed);
    auto uniform = [&rng](at::IntArrayRef sizes, double bound) {  // U(-bound, bound), float32
        auto t = torch::empty(sizes, torch::kFloat32);
        float* v = t.data_ptr<float>();
        for (int64_t i = 0, n = t.numel(); i < n; ++i) {
            const double u = static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
            v[i] = static_cast<float>((2.0 * u - 1.0) * bound);
        }
        return t;
    };
    std::map<std::string, int64_t> fan_in;  // module prefix -> fan-in of its weight
    auto params = net->named_parameters(true);
    for (const auto& p : params) {
        const std::string& name = p.key();
        if (name.rfind("lista.", 0) == 0 || p.value().dim() < 2) continue;
        if (name.size() > 7 && name.compare(name.size() - 7, 7, ".weight") == 0)
            fan_in[name.substr(0, name.size() - 7)] = p.value().numel() / p.value().size(0);
    }
    for (auto& p : params) {
        const std::string& name = p.key();
        const size_t dot = name.rfind('.');
        if (dot == std::string::npos) continue;
        auto it = fan_in.find(name.substr(0, dot));
        if (it == fan_in.end()) continue;
        p.value().copy_(uniform(p.value().sizes(), 1.0 / std::sqrt(static_cast<double>(it->second))));
    }
    if (net->cfg.vq()) {  // the codebook: U(-1/K, 1/K), as the published VQ-VAE implementations start it
        auto& vq = net->vq;
        auto t = uniform(vq->codebook.sizes(), 1.0 / static_cast<double>(vq->K));
        vq->codebook.copy_(t);
        if (vq->ema_decay > 0) {
            vq->ema_sum.copy_(t);  // the EMA starts at the codebook, one vector per entry
            vq->ema_count.fill_(1.0);
        }
    }
}

torch::Device to_torch_device(Device d) {
    if (d == Device::CUDA) {
        if (!torch::cuda::is_available()) throw Error("CUDA requested but this LibTorch has no CUDA device");
        return torch::Device(torch::kCUDA);
    }
    return torch::Device(torch::kCPU);
}

// Pads 1 x 3 x H x W on the right/bottom: reflect, or replicate when the image is smaller than the pad.
torch::Tensor pad_image(const torch::Tensor& t, int pad_right, int pad_bottom) {
    if (pad_right == 0 && pad_bottom == 0) return t;
    bool reflect = pad_right < t.size(3) && pad_bottom < t.size(2);
    auto opt = F::PadFuncOptions({0, pad_right, 0, pad_bottom});
    if (reflect)
        opt.mode(torch::kReflect);
    else
        opt.mode(torch::kReplicate);
    return F::pad(t, opt);
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------

std::string compute_fingerprint(const ModelConfig& cfg, SCVAE& net) {
    torch::NoGradGuard ng;
    return fingerprint_of(cfg, named_tensors(net));
}

void save_model_file(const std::string& path, const ModelConfig& cfg, SCVAE& net, const nlohmann::json& meta,
                     bool half) {
    torch::NoGradGuard ng;
    auto tensors = named_tensors(net);
    // Tensors as they will be stored (and read back): float32 CPU, parameters rounded to f16 when asked.
    std::vector<NamedTensor> stored;
    std::vector<torch::Tensor> raw;  // the bytes to write
    for (const auto& nt : tensors) {
        auto t = nt.t.detach().to(torch::kCPU, torch::kFloat32).contiguous().clone();
        canonicalise_zeros_(t);
        bool h = half && !nt.buffer;
        if (h) {
            auto th = t.to(torch::kHalf).contiguous();
            canonicalise_zeros_(th);  // a tiny negative weight rounds to -0 in binary16
            raw.push_back(th);
            stored.push_back({nt.name, th.to(torch::kFloat32), nt.buffer});
        } else {
            raw.push_back(t);
            stored.push_back({nt.name, t, nt.buffer});
        }
    }
    nlohmann::json header;
    header["format"] = "scvae-model";
    header["version"] = kFileVersion;
    header["config"] = cfg.to_json();
    header["fingerprint"] = fingerprint_of(cfg, stored);
    header["meta"] = meta.is_null() ? nlohmann::json::object() : meta;
    nlohmann::json list = nlohmann::json::array();
    uint64_t offset = 0;
    for (size_t i = 0; i < stored.size(); ++i) {
        uint64_t nbytes = static_cast<uint64_t>(raw[i].numel()) * raw[i].element_size();
        list.push_back({{"name", stored[i].name},
                        {"shape", raw[i].sizes().vec()},
                        {"dtype", raw[i].scalar_type() == torch::kHalf ? "f16" : "f32"},
                        {"offset", offset},
                        {"bytes", nbytes},
                        {"buffer", stored[i].buffer}});
        offset += nbytes;
    }
    header["tensors"] = list;
    std::string js = header.dump();
    std::vector<uint8_t> out;
    out.reserve(16 + js.size() + offset + 4);
    bytes::Writer w(out);
    w.raw(kMagic, 8);
    w.u32(kFileVersion);
    w.u32(static_cast<uint32_t>(js.size()));
    w.raw(js.data(), js.size());
    for (const auto& r : raw) w.raw(r.data_ptr(), size_t(r.numel()) * r.element_size());  // little-endian hosts
    w.crc_of_all();
    write_file_atomic(path, out.data(), out.size());
}

void save_model_file(const std::string& path, const ModelConfig& cfg, SCVAE& net, const nlohmann::json& meta) {
    save_model_file(path, cfg, net, meta, false);
}

std::unique_ptr<Codec::Impl> load_model_file(const std::string& path, torch::Device device) {
    ParsedFile pf = parse_model_file(path);
    const std::string name = display_name(path);
    auto impl = std::make_unique<Codec::Impl>();
    impl->cfg = pf.cfg;
    impl->meta = pf.meta;
    impl->net = SCVAE(pf.cfg);
    impl->net->eval();
    {
        torch::NoGradGuard ng;
        std::map<std::string, const TensorEntry*> by_name;
        for (const auto& e : pf.tensors) {
            if (by_name.count(e.name)) throw error_at(name, "tensor " + e.name + " appears twice");
            by_name[e.name] = &e;
        }
        auto tensors = named_tensors(impl->net);
        for (const auto& nt : tensors) {
            auto it = by_name.find(nt.name);
            if (it == by_name.end()) throw error_at(name, "tensor " + nt.name + " is missing from the model file");
            const TensorEntry& e = *it->second;
            auto want = nt.t.sizes().vec();
            if (e.shape != want)
                throw error_at(name, "tensor " + e.name + " has shape " + shape_str(e.shape) + ", config expects " +
                                         shape_str(want));
            const uint8_t* p = pf.bytes.data() + pf.data_start + e.offset;
            auto src = torch::from_blob(const_cast<uint8_t*>(p), e.shape, e.half ? torch::kHalf : torch::kFloat32)
                           .to(torch::kFloat32);
            nt.t.copy_(src);
            by_name.erase(it);
        }
        if (!by_name.empty())
            throw error_at(name, "tensor " + by_name.begin()->first + " does not belong to this model's config");
    }
    impl->fingerprint = compute_fingerprint(impl->cfg, impl->net);
    // A file written before the fingerprint was fixed (see kLegacyFnvOffsetBasis) keeps its stored fingerprint,
    // so that the code records made with it still name it.
    if (impl->fingerprint != pf.fingerprint) {
        torch::NoGradGuard ng;
        if (fingerprint_of(impl->cfg, named_tensors(impl->net), FingerprintKind::Legacy) == pf.fingerprint)
            impl->fingerprint = pf.fingerprint;
    }
    if (impl->fingerprint != pf.fingerprint)
        throw error_at(name, "fingerprint mismatch (the header says " + pf.fingerprint + ", the weights give " +
                                 impl->fingerprint + ")");
    impl->net->to(device);
    impl->device = device;
    return impl;
}

ModelInfo read_model_info(const std::string& path) {
    // The whole file is checked as a load checks it (tensor shapes against the config, the fingerprint), but
    // no network is built: the fingerprint is computed from the stored tensors in the network's order.
    ParsedFile pf = parse_model_file(path);
    std::map<std::string, const TensorEntry*> by_name;
    for (const auto& e : pf.tensors) by_name[e.name] = &e;
    std::vector<NamedTensor> stored;
    ModelInfo info;
    for (const auto& want : expected_tensors(pf.cfg)) {
        const TensorEntry& e = *by_name.at(want.name);  // parse_model_file checked that every one is there
        const uint8_t* p = pf.bytes.data() + pf.data_start + e.offset;
        auto t = torch::from_blob(const_cast<uint8_t*>(p), e.shape, e.half ? torch::kHalf : torch::kFloat32);
        stored.push_back({e.name, t, want.buffer});
        if (!want.buffer) info.parameters += static_cast<uint64_t>(t.numel());
    }
    info.fingerprint = fingerprint_of(pf.cfg, stored);
    // a file from before the fingerprint was fixed keeps its stored one, as a load does
    if (info.fingerprint != pf.fingerprint && fingerprint_of(pf.cfg, stored, FingerprintKind::Legacy) == pf.fingerprint)
        info.fingerprint = pf.fingerprint;
    if (info.fingerprint != pf.fingerprint)
        throw error_at(display_name(path), "fingerprint mismatch (the header says " + pf.fingerprint +
                                               ", the weights give " + info.fingerprint + ")");
    info.config = pf.cfg;
    info.meta = pf.meta;
    return info;
}

void init_worker_thread() { torch::set_num_threads(1); }

void set_threads(int n) {
    if (n <= 0) n = available_cpus();
    torch::set_num_threads(n);
    if (openblas_set_num_threads) openblas_set_num_threads(n);
}

// ---------------------------------------------------------------------------------------------------------
// Image <-> tensor

torch::Tensor image_to_tensor(const Image& rgb) {
    if (rgb.channels != 3) throw Error("image_to_tensor: expected an RGB image");
    if (rgb.data.size() != rgb.pixels() * 3) throw Error("image_to_tensor: pixel data has the wrong size");
    auto t = torch::from_blob(const_cast<float*>(rgb.data.data()), {rgb.height, rgb.width, 3}, torch::kFloat32);
    return (t.permute({2, 0, 1}) * 2.0 - 1.0).unsqueeze(0).contiguous();
}

Image tensor_to_image(const torch::Tensor& t) {
    auto x = t.detach();
    if (x.dim() == 4) x = x.squeeze(0);
    if (x.dim() != 3 || x.size(0) != 3) throw Error("tensor_to_image: expected 3 x H x W");
    x = ((x.to(torch::kCPU, torch::kFloat32) + 1.0) * 0.5).clamp(0.0, 1.0).permute({1, 2, 0}).contiguous();
    Image img;
    img.height = static_cast<int>(x.size(0));
    img.width = static_cast<int>(x.size(1));
    img.channels = 3;
    img.data.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
    return img;
}

// ---------------------------------------------------------------------------------------------------------
// Codec

Codec::Codec(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Codec::Codec(Codec&&) noexcept = default;
Codec& Codec::operator=(Codec&&) noexcept = default;
Codec::~Codec() = default;

Codec Codec::load(const std::string& path, Device device) {
    tune_allocator();
    torch::Device dev = to_torch_device(device);
    return Codec(load_model_file(path, dev));
}

Codec Codec::init(const ModelConfig& cfg, uint64_t seed, Device device) {
    tune_allocator();
    torch::Device dev = to_torch_device(device);
    cfg.validate();
    torch::manual_seed(seed);
    auto impl = std::make_unique<Impl>();
    impl->cfg = cfg;
    impl->net = SCVAE(cfg);
    init_random_weights(impl->net, seed);
    impl->net->eval();
    impl->fingerprint = compute_fingerprint(cfg, impl->net);
    impl->meta = nlohmann::json{{"init_seed", seed}};
    impl->net->to(dev);
    impl->device = dev;
    return Codec(std::move(impl));
}

const ModelConfig& Codec::config() const { return impl_->cfg; }
const std::string& Codec::fingerprint() const { return impl_->fingerprint; }
const nlohmann::json& Codec::meta() const { return impl_->meta; }

void Codec::save(const std::string& path, const nlohmann::json& meta) const { save(path, meta, false); }

void Codec::save(const std::string& path, const nlohmann::json& meta, bool half) const {
    save_model_file(path, impl_->cfg, impl_->net, meta.is_null() ? impl_->meta : meta, half);
}

void Codec::set_solver(const std::string& solver, int steps) {
    if (solver != "lista" && solver != "ista" && solver != "fista")
        throw Error("unknown solver '" + solver + "' (lista, ista or fista)");
    if (impl_->cfg.vq()) throw Error("a VQ model has no sparse solver (--solver applies to SC models)");
    auto& l = impl_->net->lista;
    l->solver = solver;
    l->steps = steps > 0 ? steps : impl_->cfg.steps;
}

std::vector<CodeRecord> Codec::encode(const std::vector<Image>& images, const std::vector<std::string>& names) {
    c10::InferenceMode guard;
    const ModelConfig& cfg = impl_->cfg;
    const int f = cfg.factor();
    std::vector<CodeRecord> recs(images.size());
    // Group by padded size, keeping input order inside each group.
    std::map<std::pair<int, int>, std::vector<size_t>> groups;
    for (size_t i = 0; i < images.size(); ++i) {
        const Image& img = images[i];
        const std::string nm = i < names.size() ? names[i] : std::string();
        if (img.width <= 0 || img.height <= 0) throw error_at(nm, "empty image");
        if (img.channels < 1 || img.channels > 4 || img.data.size() != img.pixels() * img.channels)
            throw error_at(nm, "bad image data");
        CodeRecord& r = recs[i];
        r.fingerprint = impl_->fingerprint;
        r.n = static_cast<uint32_t>(cfg.n);
        r.K = static_cast<uint32_t>(cfg.K);
        r.d = static_cast<uint32_t>(cfg.d());
        r.source = nm;
        r.image_width = static_cast<uint32_t>(img.width);
        r.image_height = static_cast<uint32_t>(img.height);
        r.image_channels = img.channels <= 2 ? 1 : 3;
        int pw = (img.width + f - 1) / f * f, ph = (img.height + f - 1) / f * f;
        r.pad_right = static_cast<uint32_t>(pw - img.width);
        r.pad_bottom = static_cast<uint32_t>(ph - img.height);
        r.grid_w = static_cast<uint32_t>(pw / f);
        r.grid_h = static_cast<uint32_t>(ph / f);
        groups[{ph, pw}].push_back(i);
    }
    const int64_t max_batch_pixels = int64_t(8) * 256 * 256;
    for (const auto& [size, idx] : groups) {
        const int64_t px = int64_t(size.first) * size.second;
        const size_t per_batch = static_cast<size_t>(std::max<int64_t>(1, max_batch_pixels / px));
        for (size_t start = 0; start < idx.size(); start += per_batch) {
            size_t end = std::min(idx.size(), start + per_batch);
            std::vector<torch::Tensor> xs;
            for (size_t k = start; k < end; ++k) {
                const Image& img = images[idx[k]];
                torch::Tensor t = img.channels == 3 ? image_to_tensor(img) : image_to_tensor(to_rgb(img));
                xs.push_back(pad_image(t, static_cast<int>(recs[idx[k]].pad_right),
                                       static_cast<int>(recs[idx[k]].pad_bottom)));
            }
            auto x = torch::cat(xs, 0).to(impl_->device);
            auto z = impl_->net->encode_codes(x).to(torch::kCPU, torch::kFloat32).contiguous();
            const float* base = z.data_ptr<float>();
            for (size_t k = start; k < end; ++k) {
                CodeRecord& r = recs[idx[k]];
                size_t positions = r.positions();
                r.set_dense(base + (k - start) * positions * cfg.K, positions, r.K);
                // Weights that are finite but absurd (a damaged or hostile model file) give codes no reader
                // accepts and k-means cannot cluster: refused here, where the values are made.
                for (float v : r.values)
                    if (!std::isfinite(v) || std::fabs(v) > kMaxCodeValue) {
                        char buf[32];
                        std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
                        throw error_at(r.source, std::string("the model gives a code value out of range (") + buf +
                                                     ", |value| at most 1e15)");
                    }
            }
        }
    }
    return recs;
}

namespace {

void check_record(const CodeRecord& r, const ModelConfig& cfg) {
    if (r.n != static_cast<uint32_t>(cfg.n) || r.K != static_cast<uint32_t>(cfg.K) ||
        r.d != static_cast<uint32_t>(cfg.d())) {
        std::ostringstream m;
        m << "record was made by a model with n=" << r.n << ", K=" << r.K << ", d=" << r.d << "; this model has n="
          << cfg.n << ", K=" << cfg.K << ", d=" << cfg.d();
        throw Error(m.str());
    }
    r.validate();
    const uint64_t f = cfg.factor();
    if (r.image_width == 0 || r.image_height == 0 ||
        uint64_t(r.grid_w) * f != uint64_t(r.image_width) + r.pad_right ||
        uint64_t(r.grid_h) * f != uint64_t(r.image_height) + r.pad_bottom) {
        std::ostringstream m;
        m << "record grid " << r.grid_w << "x" << r.grid_h << " does not fit image size " << r.image_width << "x"
          << r.image_height << " with padding " << r.pad_right << "," << r.pad_bottom << " for d=" << cfg.d();
        throw Error(m.str());
    }
}

}  // namespace

std::vector<Image> Codec::decode(const std::vector<CodeRecord>& recs) {
    c10::InferenceMode guard;
    const ModelConfig& cfg = impl_->cfg;
    for (const auto& r : recs) check_record(r, cfg);
    std::vector<Image> out(recs.size());
    std::map<std::pair<uint32_t, uint32_t>, std::vector<size_t>> groups;
    for (size_t i = 0; i < recs.size(); ++i) groups[{recs[i].grid_h, recs[i].grid_w}].push_back(i);
    const int64_t max_batch_positions = int64_t(8) * 32 * 32;
    for (const auto& [grid, idx] : groups) {
        const int64_t pos = int64_t(grid.first) * grid.second;
        const size_t per_batch = static_cast<size_t>(std::max<int64_t>(1, max_batch_positions / pos));
        for (size_t start = 0; start < idx.size(); start += per_batch) {
            size_t end = std::min(idx.size(), start + per_batch);
            auto z = torch::zeros({static_cast<int64_t>(end - start), grid.first, grid.second, cfg.K}, torch::kFloat32);
            float* base = z.data_ptr<float>();
            for (size_t k = start; k < end; ++k) {
                const CodeRecord& r = recs[idx[k]];
                float* zb = base + (k - start) * static_cast<size_t>(pos) * cfg.K;
                for (size_t p = 0; p < r.positions(); ++p)
                    for (uint32_t e = r.row_ptr[p]; e < r.row_ptr[p + 1]; ++e)
                        zb[p * cfg.K + r.indices[e]] = r.values[e];
            }
            auto x = impl_->net->decode_codes(z.to(impl_->device)).to(torch::kCPU);
            for (size_t k = start; k < end; ++k) {
                const CodeRecord& r = recs[idx[k]];
                auto crop = x[static_cast<int64_t>(k - start)]
                                .slice(1, 0, r.image_height)
                                .slice(2, 0, r.image_width);
                out[idx[k]] = tensor_to_image(crop);
            }
        }
    }
    return out;
}

Image Codec::decode(const CodeRecord& rec) {
    // One record: avoid copying it into a vector.
    c10::InferenceMode guard;
    const ModelConfig& cfg = impl_->cfg;
    check_record(rec, cfg);
    auto z = torch::zeros({1, rec.grid_h, rec.grid_w, cfg.K}, torch::kFloat32);
    float* zb = z.data_ptr<float>();
    for (size_t p = 0; p < rec.positions(); ++p)
        for (uint32_t e = rec.row_ptr[p]; e < rec.row_ptr[p + 1]; ++e) zb[p * cfg.K + rec.indices[e]] = rec.values[e];
    auto x = impl_->net->decode_codes(z.to(impl_->device)).to(torch::kCPU);
    return tensor_to_image(x[0].slice(1, 0, rec.image_height).slice(2, 0, rec.image_width));
}

}  // namespace scvae
