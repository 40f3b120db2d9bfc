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
#include <omp.h>
#include <random>
#include <set>
#include <sstream>

#include "scvae/error.h"
#include "scvae/io.h"
#include "scvae/runtime.h"
#include "io/bytes.h"
#include "model/codec_common.h"
#include "model/file.h"
#include "model/networks.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the model file reader assumes a little-endian host");


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

// Fingerprint of a config and a list of float32 CPU tensors (already rounded to their stored precision).
std::string fingerprint_of(const ModelConfig& cfg, const std::vector<NamedTensor>& tensors,
                           FingerprintKind kind = FingerprintKind::Current) {
    const bool legacy = kind == FingerprintKind::Legacy;
    Fnv f;
    if (legacy) f.h = kLegacyFnvOffsetBasis;
    std::string cj = cfg.to_json().dump();
    f.add(cj.data(), cj.size());
    for (const auto& nt : tensors) {
        auto t = nt.t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
        if (!legacy) {
            t = t.clone();
            canonicalise_zeros_(t);
        }
        f.add_tensor(nt.name, t.sizes().vec(), t.data_ptr<float>(), static_cast<size_t>(t.numel()));
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
    impl->fingerprint = checked_fingerprint(pf, name);  // the stored weights against the header, before any build
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
    impl->net->to(device);
    impl->device = device;
    return impl;
}

infer::TensorSource tensor_source(SCVAE& net) {
    return [&net](const std::string& name) -> std::vector<float> {
        for (const auto& nt : named_tensors(net))
            if (nt.name == name) {
                auto t = nt.t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
                return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
            }
        throw Error("the network has no tensor " + name);
    };
}

// omp_set_num_threads as well: with Debian's OpenMP ATen backend torch::set_num_threads does it too, but the
// OpenMP loops of spectral.cpp read this thread's OpenMP count whatever backend LibTorch was built with, and with
// more than one they would set OpenBLAS's global thread count while other workers are inside BLAS.
void init_worker_thread() {
    torch::set_num_threads(1);
    omp_set_num_threads(1);
}

void set_threads(int n) {
    if (n <= 0) n = available_cpus();
    torch::set_num_threads(n);
    set_blas_threads(n);
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

namespace {

// A broken invariant of Codec::grow (a bug, not a user error): the two networks do not line up.
void grow_check(bool ok, const char* what) {
    if (!ok) throw std::logic_error(std::string("Codec::grow: internal error: ") + what);
}

// Copies the body entries of `from` to the entries of `to` with the same layer name; an entry of `to` that
// `from` lacks must be a residual or attention block, which is zeroed at its output so that it passes its input on.
// Appends the added entries' parameter-name prefixes ("<prefix>.<index>") to `added`.
void grow_body(const torch::nn::Sequential& from, const std::vector<std::string>& from_layers,
               const torch::nn::Sequential& to, const std::vector<std::string>& to_layers, const std::string& prefix,
               std::vector<std::string>& added) {
    grow_check(from->size() == from_layers.size() && to->size() == to_layers.size(), "layer names");
    std::map<std::string, size_t> at;
    for (size_t j = 0; j < to_layers.size(); ++j) at[to_layers[j]] = j;
    std::vector<bool> copied(to_layers.size(), false);
    for (size_t i = 0; i < from_layers.size(); ++i) {
        auto it = at.find(from_layers[i]);
        grow_check(it != at.end(), "a layer has no place in the deeper network");
        const size_t j = it->second;
        auto src = from->ptr(i)->named_parameters(true);
        auto dst = to->ptr(j)->named_parameters(true);
        grow_check(src.size() == dst.size(), "parameter count of a layer");
        for (const auto& p : src) {
            torch::Tensor* d = dst.find(p.key());
            grow_check(d != nullptr && d->sizes() == p.value().sizes(), "parameter shape");
            d->copy_(p.value());
        }
        copied[j] = true;
    }
    for (size_t j = 0; j < to_layers.size(); ++j) {
        if (copied[j]) continue;
        const std::string& name = to_layers[j];
        const char* out = name.rfind("res ", 0) == 0 ? "conv2." : name.rfind("attn ", 0) == 0 ? "proj_out." : nullptr;
        grow_check(out != nullptr, "a new layer that is not a block");
        added.push_back(prefix + "." + std::to_string(j));
        for (auto& p : to->ptr(j)->named_parameters(true))
            if (p.key().rfind(out, 0) == 0) p.value().zero_();
    }
}

}  // namespace

Codec Codec::grow(int res_blocks, uint64_t seed) const {
    const ModelConfig& cfg = impl_->cfg;
    if (res_blocks <= cfg.num_res_blocks)
        throw Error("the model has " + std::to_string(cfg.num_res_blocks) + " residual block" +
                    (cfg.num_res_blocks == 1 ? "" : "s") + " per level; growing needs more (got " +
                    std::to_string(res_blocks) + ")");
    ModelConfig deeper = cfg;
    deeper.num_res_blocks = res_blocks;
    deeper.preset.clear();  // no longer the preset's architecture
    try {
        deeper.validate();
    } catch (const std::exception& e) {
        throw Error(std::string("the deeper model: ") + e.what());
    }
    Codec grown = Codec::init(deeper, seed);
    Impl& g = *grown.impl_;
    std::vector<std::string> added;
    {
        torch::NoGradGuard no_grad;
        const SCVAE& src_net = impl_->net;  // copy_ also copies across devices: the grown model is on the CPU
        grow_body(src_net->encoder->body, src_net->encoder->layers, g.net->encoder->body, g.net->encoder->layers,
                  "encoder.body", added);
        grow_body(src_net->decoder->body, src_net->decoder->layers, g.net->decoder->body, g.net->decoder->layers,
                  "decoder.body", added);
        // everything outside the encoder and decoder bodies (LISTA or VQ) is the same network: copy it by name
        auto dst_params = g.net->named_parameters(true);
        auto dst_buffers = g.net->named_buffers(true);
        auto copy_rest = [](const auto& src, auto& dst) {
            for (const auto& p : src) {
                const std::string& k = p.key();
                if (k.rfind("encoder.", 0) == 0 || k.rfind("decoder.", 0) == 0) continue;
                torch::Tensor* d = dst.find(k);
                grow_check(d != nullptr && d->sizes() == p.value().sizes(), "tensor outside the bodies");
                d->copy_(p.value());
            }
        };
        copy_rest(src_net->named_parameters(true), dst_params);
        copy_rest(src_net->named_buffers(true), dst_buffers);
        // buffers inside the bodies (none today; GroupNorm keeps no running statistics) would need copying too
        for (const auto& b : src_net->named_buffers(true))
            grow_check(b.key().rfind("encoder.", 0) != 0 && b.key().rfind("decoder.", 0) != 0, "buffer in a body");
    }
    g.fingerprint = compute_fingerprint(deeper, g.net);
    g.meta = nlohmann::json{{"created_by", "scvae-model grow"},
                            {"grown_from", impl_->fingerprint},
                            {"grown_from_res_blocks", cfg.num_res_blocks},
                            {"init_seed", seed},
                            {"grown_layers", added},
                            {"grown_from_meta", impl_->meta}};
    return grown;
}

namespace {

// Codec::widen's channel map of a hidden space of C channels in groups of p: new channel c (of 2C) copies old
// channel index[c]; sign[c] is +1 for the first copy and -1 for the second. The new channels 2jp .. 2jp + 2p - 1
// hold old group j's channels twice (first copies, then second ones), so GroupNorm keeps each group's mean and
// variance whether the doubled width has the same number of groups (group j: 2p channels, each old one twice) or
// twice as many (groups 2j and 2j + 1: p channels each, each old one once).
struct WidenMap {
    torch::Tensor index;  // int64, 2C
    torch::Tensor sign;   // float, 2C
};

WidenMap widen_map(int64_t C, int groups) {
    const int64_t g = norm_groups(groups, static_cast<int>(C));
    const int64_t g2 = norm_groups(groups, static_cast<int>(2 * C));
    grow_check(g2 == g || g2 == 2 * g, "the group count of a widened layer");
    const int64_t p = C / g;
    std::vector<int64_t> index(2 * C);
    std::vector<float> sign(2 * C);
    for (int64_t c = 0; c < 2 * C; ++c) {
        const int64_t j = c % (2 * p);
        index[c] = c / (2 * p) * p + j % p;
        sign[c] = j < p ? 1.0f : -1.0f;
    }
    return {torch::tensor(index, torch::kLong), torch::tensor(sign, torch::kFloat)};
}

// The parameter-name prefixes ("encoder.body.9.") of a body's attention blocks.
void attention_prefixes(const std::vector<std::string>& layers, const std::string& prefix, std::set<std::string>& out) {
    for (size_t j = 0; j < layers.size(); ++j)
        if (layers[j] == "mid_attn" || layers[j].rfind("attn ", 0) == 0)
            out.insert(prefix + "." + std::to_string(j) + ".");
}

}  // namespace

Codec Codec::widen(uint64_t seed) const {
    const ModelConfig& cfg = impl_->cfg;
    // Each hidden space's GroupNorm must keep its groups (cpu-f8: 16 groups of 2 -> 16 of 4) or split each in two.
    std::vector<int> widths = {cfg.channels};
    for (int m : cfg.ch_mult) widths.push_back(cfg.channels * m);
    for (int c : widths) {
        const int g = norm_groups(cfg.groups, c), g2 = norm_groups(cfg.groups, 2 * c);
        if (g2 != g && g2 != 2 * g)
            throw Error("cannot widen: the " + std::to_string(c) + "-channel layers have " + std::to_string(g) +
                        " GroupNorm groups but would have " + std::to_string(g2) + " at " + std::to_string(2 * c) +
                        " channels (config groups " + std::to_string(cfg.groups) + "; the count must stay or double)");
    }
    ModelConfig wider = cfg;
    wider.channels = cfg.channels * 2;
    wider.preset.clear();  // no longer the preset's architecture
    try {
        wider.validate();
    } catch (const std::exception& e) {
        throw Error(std::string("the wider model: ") + e.what());
    }
    Codec out = Codec::init(wider, seed);
    Impl& g = *out.impl_;
    // The shares' d, drawn with plain integer and double arithmetic as init_random_weights does, so that a seed gives
    // the same file on every CPU.
    std::mt19937_64 rng(seed);
    auto spread_like = [&rng](at::IntArrayRef sizes) {  // U(-kWidenShareSpread, kWidenShareSpread), float32
        auto t = torch::empty(sizes, torch::kFloat32);
        float* v = t.data_ptr<float>();
        for (int64_t i = 0, n = t.numel(); i < n; ++i) {
            const double u = static_cast<double>(rng() >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
            v[i] = static_cast<float>((2.0 * u - 1.0) * kWidenShareSpread);
        }
        return t;
    };
    {
        torch::NoGradGuard no_grad;
        const SCVAE& src_net = impl_->net;
        std::set<std::string> attention;
        attention_prefixes(g.net->encoder->layers, "encoder.body", attention);
        attention_prefixes(g.net->decoder->layers, "decoder.body", attention);
        const auto src = src_net->named_parameters(true);
        auto dst = g.net->named_parameters(true);
        grow_check(src.size() == dst.size(), "parameter count");
        for (auto& d : dst) {
            const torch::Tensor* s = src.find(d.key());
            grow_check(s != nullptr, "a parameter of the wider network has no counterpart");
            torch::Tensor w = s->detach().to(torch::kCPU, torch::kFloat);
            const torch::Tensor& to = d.value();
            grow_check(to.dim() == w.dim(), "parameter rank");
            if (w.dim() >= 1 && to.size(0) == 2 * w.size(0))  // a widened output: each channel twice
                w = w.index_select(0, widen_map(w.size(0), cfg.groups).index);
            if (w.dim() == 4 && to.size(1) == 2 * w.size(1)) {  // a widened input: split each weight in two shares
                const WidenMap m = widen_map(w.size(1), cfg.groups);
                torch::Tensor spread = spread_like(w.sizes());  // one per (new output, old input, tap)
                w = w.index_select(1, m.index) * (spread.index_select(1, m.index) * m.sign.view({1, -1, 1, 1}) + 0.5);
            }
            const std::string& k = d.key();
            const size_t dot = k.rfind('.');
            const std::string layer = k.substr(0, k.rfind('.', dot - 1) + 1);  // "encoder.body.9."
            const std::string name = k.substr(layer.size());
            // attention scores are q.k / sqrt(C): with every channel twice q.k doubles while sqrt(C) grows by sqrt(2)
            if (attention.count(layer) && (name == "q.weight" || name == "q.bias")) w = w / std::sqrt(2.0);
            grow_check(w.sizes() == to.sizes(), "a parameter shape that is not the old one with doubled channels");
            d.value().copy_(w);
        }
        auto dst_buffers = g.net->named_buffers(true);
        for (const auto& b : src_net->named_buffers(true)) {
            torch::Tensor* d = dst_buffers.find(b.key());
            grow_check(d != nullptr && d->sizes() == b.value().sizes(), "buffer");
            d->copy_(b.value());
        }
    }
    g.fingerprint = compute_fingerprint(wider, g.net);
    nlohmann::json grown_layers = nlohmann::json::array();
    if (impl_->meta.is_object() && impl_->meta.contains("grown_layers") && impl_->meta["grown_layers"].is_array())
        grown_layers = impl_->meta["grown_layers"];
    g.meta = nlohmann::json{{"created_by", "scvae-model grow"},
                            {"grown_from", impl_->fingerprint},
                            {"grown_from_channels", cfg.channels},
                            {"init_seed", seed},
                            {"share_spread", kWidenShareSpread},
                            {"grown_layers", grown_layers},
                            {"grown_from_meta", impl_->meta}};
    return out;
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
    std::vector<CodeRecord> recs(images.size());
    std::vector<std::pair<int64_t, int64_t>> sizes(images.size());  // padded height, width
    for (size_t i = 0; i < images.size(); ++i) {
        recs[i] = record_for_image(images[i], i < names.size() ? names[i] : std::string(), cfg, impl_->fingerprint);
        sizes[i] = {int64_t(recs[i].grid_h) * cfg.factor(), int64_t(recs[i].grid_w) * cfg.factor()};
    }
    for (const auto& batch : batches_by_size(sizes, int64_t(8) * 256 * 256)) {
        std::vector<torch::Tensor> xs;
        for (size_t i : batch) {
            const Image& img = images[i];
            torch::Tensor t = img.channels == 3 ? image_to_tensor(img) : image_to_tensor(to_rgb(img));
            xs.push_back(pad_image(t, static_cast<int>(recs[i].pad_right), static_cast<int>(recs[i].pad_bottom)));
        }
        auto x = torch::cat(xs, 0).to(impl_->device);
        auto z = impl_->net->encode_codes(x).to(torch::kCPU, torch::kFloat32).contiguous();
        const float* base = z.data_ptr<float>();
        for (size_t k = 0; k < batch.size(); ++k) {
            CodeRecord& r = recs[batch[k]];
            const size_t positions = r.positions();
            r.set_dense(base + k * positions * cfg.K, positions, r.K);
            check_code_values(r);
        }
    }
    return recs;
}

std::vector<Image> Codec::decode(const std::vector<CodeRecord>& recs) {
    c10::InferenceMode guard;
    const ModelConfig& cfg = impl_->cfg;
    std::vector<Image> out(recs.size());
    for (const auto& batch : checked_decode_batches(recs, cfg)) {
        const int64_t gh = recs[batch[0]].grid_h, gw = recs[batch[0]].grid_w, pos = gh * gw;
        auto z = torch::zeros({static_cast<int64_t>(batch.size()), gh, gw, cfg.K}, torch::kFloat32);
        float* base = z.data_ptr<float>();
        for (size_t k = 0; k < batch.size(); ++k) {
            const CodeRecord& r = recs[batch[k]];
            float* zb = base + k * static_cast<size_t>(pos) * cfg.K;
            for (size_t p = 0; p < r.positions(); ++p)
                for (uint32_t e = r.row_ptr[p]; e < r.row_ptr[p + 1]; ++e) zb[p * cfg.K + r.indices[e]] = r.values[e];
        }
        auto x = impl_->net->decode_codes(z.to(impl_->device)).to(torch::kCPU);
        for (size_t k = 0; k < batch.size(); ++k) {
            const CodeRecord& r = recs[batch[k]];
            out[batch[k]] = tensor_to_image(
                x[static_cast<int64_t>(k)].slice(1, 0, r.image_height).slice(2, 0, r.image_width));
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
