// codec_light.cpp - the Codec of the torch-free tools: model files run by the inference engine of
// lib/src/infer/ (oneDNN and BLAS) instead of the LibTorch modules.
//
// scvae-encode and scvae-decode link this instead of model/codec.cpp (CMakeLists.txt, SCVAE_LIGHT_TOOLS): they
// then start in milliseconds instead of the ~0.6 s LibTorch costs every process, with the same codes and images
// to float rounding (tests/unit/test_engine.cpp). It loads, encodes and decodes on the CPU; a model is made,
// trained and saved by the LibTorch tools (scvae-train, scvae-model), which link model/codec.cpp.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "infer/engine.h"
#include "model/codec_common.h"
#include "model/file.h"
#include "scvae/error.h"
#include "scvae/io.h"
#include "scvae/runtime.h"


namespace scvae {

struct Codec::Impl {
    ModelConfig cfg;
    std::string fingerprint;
    nlohmann::json meta;
    std::unique_ptr<infer::Network> net;
};

Codec::Codec(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Codec::Codec(Codec&&) noexcept = default;
Codec& Codec::operator=(Codec&&) noexcept = default;
Codec::~Codec() = default;

Codec Codec::load(const std::string& path, Device device) {
    if (device == Device::CUDA)
        throw Error("CUDA requested but this program runs on the CPU without LibTorch (configure with "
                    "-DSCVAE_LIGHT_TOOLS=OFF and a CUDA LibTorch for --device cuda)");
    tune_allocator();
    ParsedFile pf = parse_model_file(path);
    const std::string name = display_name(path);
    auto impl = std::make_unique<Impl>();
    impl->cfg = pf.cfg;
    impl->meta = pf.meta;
    impl->fingerprint = checked_fingerprint(pf, name);
    std::map<std::string, const TensorEntry*> by_name;
    for (const auto& e : pf.tensors) by_name[e.name] = &e;
    impl->net = std::make_unique<infer::Network>(pf.cfg, [&](const std::string& t) {
        auto it = by_name.find(t);
        if (it == by_name.end()) throw error_at(name, "tensor " + t + " is missing from the model file");
        return tensor_values(pf, *it->second);
    });
    return Codec(std::move(impl));
}

const ModelConfig& Codec::config() const { return impl_->cfg; }
const std::string& Codec::fingerprint() const { return impl_->fingerprint; }
const nlohmann::json& Codec::meta() const { return impl_->meta; }

void Codec::set_solver(const std::string& solver, int steps) { impl_->net->set_solver(solver, steps); }

std::vector<CodeRecord> Codec::encode(const std::vector<Image>& images, const std::vector<std::string>& names) {
    const ModelConfig& cfg = impl_->cfg;
    const int f = cfg.factor();
    std::vector<CodeRecord> recs(images.size());
    std::vector<std::pair<int64_t, int64_t>> sizes(images.size());  // padded height, width
    for (size_t i = 0; i < images.size(); ++i) {
        recs[i] = record_for_image(images[i], i < names.size() ? names[i] : std::string(), cfg, impl_->fingerprint);
        sizes[i] = {int64_t(recs[i].grid_h) * f, int64_t(recs[i].grid_w) * f};
    }
    for (const auto& batch : batches_by_size(sizes, int64_t(8) * 256 * 256)) {
        const int H = static_cast<int>(sizes[batch[0]].first), W = static_cast<int>(sizes[batch[0]].second);
        const int B = static_cast<int>(batch.size());
        const size_t px = size_t(H) * W, positions = px / (size_t(f) * f);
        std::vector<float> x(size_t(B) * px * 3), z(size_t(B) * positions * cfg.K);
        for (int k = 0; k < B; ++k) image_to_nhwc(images[batch[k]], H, W, x.data() + size_t(k) * px * 3);
        impl_->net->encode(x.data(), B, H, W, z.data());
        for (int k = 0; k < B; ++k) {
            CodeRecord& r = recs[batch[k]];
            r.set_dense(z.data() + size_t(k) * positions * cfg.K, positions, r.K);
            check_code_values(r);
        }
    }
    return recs;
}

namespace {

// D z per position, from the record's CSR: only the non-zeros cost (B x h x w x n at `latent`, zeroed here).
void latent_of(const CodeRecord& r, const std::vector<float>& atom_rows, int n, float* latent) {
    std::fill(latent, latent + r.positions() * size_t(n), 0.f);
    for (size_t p = 0; p < r.positions(); ++p) {
        float* lp = latent + p * n;
        for (uint32_t e = r.row_ptr[p]; e < r.row_ptr[p + 1]; ++e) {
            const float v = r.values[e];
            const float* a = atom_rows.data() + size_t(r.indices[e]) * n;
            for (int i = 0; i < n; ++i) lp[i] += v * a[i];
        }
    }
}

}  // namespace

namespace {

// Decodes records that share one grid size as one batch.
void decode_batch(const infer::Network& net, const ModelConfig& cfg, const std::vector<const CodeRecord*>& batch,
                  Image* out[]) {
    const int f = cfg.factor(), gh = static_cast<int>(batch[0]->grid_h), gw = static_cast<int>(batch[0]->grid_w);
    const int B = static_cast<int>(batch.size()), H = gh * f, W = gw * f;
    const size_t positions = size_t(gh) * gw, px = size_t(H) * W;
    std::vector<float> lat(size_t(B) * positions * cfg.n), y(size_t(B) * px * 3);
    for (int k = 0; k < B; ++k) latent_of(*batch[k], net.atom_rows(), cfg.n, lat.data() + size_t(k) * positions * cfg.n);
    net.decode_latent(lat.data(), B, gh, gw, y.data());
    for (int k = 0; k < B; ++k)
        *out[k] = image_from_nhwc(y.data() + size_t(k) * px * 3, W, static_cast<int>(batch[k]->image_width),
                                  static_cast<int>(batch[k]->image_height));
}

}  // namespace

std::vector<Image> Codec::decode(const std::vector<CodeRecord>& recs) {
    const ModelConfig& cfg = impl_->cfg;
    std::vector<Image> out(recs.size());
    for (const auto& batch : checked_decode_batches(recs, cfg)) {
        std::vector<const CodeRecord*> rs;
        std::vector<Image*> os;
        for (size_t i : batch) rs.push_back(&recs[i]), os.push_back(&out[i]);
        decode_batch(*impl_->net, cfg, rs, os.data());
    }
    return out;
}

Image Codec::decode(const CodeRecord& rec) {
    check_record(rec, impl_->cfg);
    Image img;
    Image* out[] = {&img};
    decode_batch(*impl_->net, impl_->cfg, {&rec}, out);
    return img;
}

void init_worker_thread() { omp_set_num_threads(1); }

void set_threads(int n) {
    if (n <= 0) n = available_cpus();
    omp_set_num_threads(n);
    set_blas_threads(n);
}

}  // namespace scvae
