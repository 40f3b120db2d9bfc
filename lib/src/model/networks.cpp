// networks.cpp - the LibTorch modules of SC-VAE: the fixed DCT dictionary, ISTA/FISTA, Learned ISTA,
// the VQGAN-style encoder/decoder of the paper's Table 4, the whole SC-VAE and its loss (Eq. (5)).
#include <cmath>
#include <mutex>
#include <numeric>

#include "scvae/error.h"
#include "model/networks.h"

namespace scvae {

namespace F = torch::nn::functional;

// ---------------------------------------------------------------------------------------------------------
// Dictionary and classic solvers

namespace {

// Rounding noise of a value that is mathematically zero (the fixed parts below are built from unit-norm
// columns, so their entries are O(1) or exactly 0): snapped to +0 so that it cannot reach the float32 weights
// as a kernel-dependent tiny number or a -0.
constexpr double kZeroSnap = 1e-12;
double snap_zero(double x) { return std::abs(x) < kZeroSnap ? 0.0 : x; }

}  // namespace

// The dictionary in float64, built with plain loops (no BLAS, no vectorised reductions), so that it is the
// same on every CPU.
torch::Tensor dct_dictionary_f64(int n, int K) {
    int m = static_cast<int>(std::lround(std::sqrt(static_cast<double>(n))));
    if (m * m != n) throw Error("dct_dictionary: n must be a perfect square, got " + std::to_string(n));
    if (K < 1) throw Error("dct_dictionary: K must be positive");
    int p = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(K))));
    while (p * p < K) ++p;
    while (p > 1 && (p - 1) * (p - 1) >= K) --p;
    // 1-D overcomplete DCT, m x p.
    std::vector<double> d1(static_cast<size_t>(m) * p, 0.0);
    for (int k = 0; k < p; ++k) {
        std::vector<double> v(m);
        double mean = 0;
        for (int t = 0; t < m; ++t) {
            v[t] = snap_zero(std::cos(M_PI * k * t / p));
            mean += v[t];
        }
        mean = snap_zero(mean / m);
        double norm = 0;
        for (int t = 0; t < m; ++t) {
            if (k > 0) v[t] = snap_zero(v[t] - mean);
            norm += v[t] * v[t];
        }
        norm = std::sqrt(norm);
        for (int t = 0; t < m; ++t) d1[t * p + k] = norm > 0 ? snap_zero(v[t] / norm) : 0.0;
    }
    // 2-D atoms: the Kronecker product d1 (x) d1 (n x p^2), row i + j*m (column-major pixel order) moved to
    // row i*m + j (row-major), columns normalised to unit length, the first K kept.
    const int P = p * p;
    std::vector<double> full(static_cast<size_t>(n) * P);
    for (int a = 0; a < m; ++a)          // kron row a*m + b
        for (int b2 = 0; b2 < m; ++b2) {
            int src_row = a * m + b2;
            int i = src_row % m, j = src_row / m;  // src_row = i + j*m
            int dst_row = i * m + j;
            for (int c = 0; c < p; ++c)
                for (int e = 0; e < p; ++e)
                    full[static_cast<size_t>(dst_row) * P + c * p + e] = d1[a * p + c] * d1[b2 * p + e];
        }
    auto D = torch::zeros({n, K}, torch::kFloat64);
    auto acc = D.accessor<double, 2>();
    for (int c = 0; c < K; ++c) {
        double norm = 0;
        for (int r = 0; r < n; ++r) norm += full[static_cast<size_t>(r) * P + c] * full[static_cast<size_t>(r) * P + c];
        norm = std::max(std::sqrt(norm), 1e-300);
        for (int r = 0; r < n; ++r) acc[r][c] = snap_zero(full[static_cast<size_t>(r) * P + c] / norm);
    }
    return D;
}

torch::Tensor dct_dictionary(int n, int K) { return dct_dictionary_f64(n, K).to(torch::kFloat32).contiguous(); }

double lipschitz_constant(const torch::Tensor& D) {
    auto Dd = D.detach().to(torch::kCPU, torch::kFloat64);
    // The nonzero eigenvalues of D^T D and D D^T agree; take the smaller Gram matrix.
    auto G = Dd.size(0) <= Dd.size(1) ? Dd.matmul(Dd.t()) : Dd.t().matmul(Dd);
    auto ev = torch::linalg_eigvalsh(G, "L");
    // Rounded to float32: the last bits of LAPACK's float64 result depend on the BLAS kernel, and L reaches
    // the float32 weights (W_e, S, theta) of a fresh model.
    return static_cast<double>(static_cast<float>(ev.max().item<double>()));
}

torch::Tensor soft_threshold(const torch::Tensor& v, const torch::Tensor& theta) {
    return torch::sign(v) * torch::relu(v.abs() - theta);
}

torch::Tensor sparse_objective(const torch::Tensor& x, const torch::Tensor& D, const torch::Tensor& z,
                               double alpha) {
    auto r = x - z.matmul(D.t());
    return 0.5 * r.pow(2).sum(-1) + alpha * z.abs().sum(-1);
}

namespace {

// ISTA / FISTA with a known Lipschitz constant L (the LISTA module keeps its L, so that forward() does not
// recompute an eigenvalue on every call).
torch::Tensor ista_with(const torch::Tensor& x, const torch::Tensor& D, double alpha, int iters, double L) {
    auto theta = torch::full({D.size(1)}, alpha / L, x.options());
    auto z = torch::zeros({x.size(0), D.size(1)}, x.options());
    auto xD = x.matmul(D);        // B x K  (D^T x per row)
    auto G = D.t().matmul(D);     // K x K
    for (int t = 0; t < iters; ++t) {
        auto grad = z.matmul(G) - xD;  // D^T (D z - x)
        z = soft_threshold(z - grad / L, theta);
    }
    return z;
}

torch::Tensor fista_with(const torch::Tensor& x, const torch::Tensor& D, double alpha, int iters, double L) {
    auto theta = torch::full({D.size(1)}, alpha / L, x.options());
    auto z = torch::zeros({x.size(0), D.size(1)}, x.options());
    auto y = z;
    auto xD = x.matmul(D);
    auto G = D.t().matmul(D);
    double tk = 1.0;
    for (int t = 0; t < iters; ++t) {
        auto grad = y.matmul(G) - xD;
        auto z_next = soft_threshold(y - grad / L, theta);
        double tn = (1.0 + std::sqrt(1.0 + 4.0 * tk * tk)) / 2.0;
        y = z_next + ((tk - 1.0) / tn) * (z_next - z);
        z = z_next;
        tk = tn;
    }
    return z;
}

}  // namespace

torch::Tensor ista(const torch::Tensor& x, const torch::Tensor& D, double alpha, int iters) {
    return ista_with(x, D.to(x.options()), alpha, iters, lipschitz_constant(D));
}

torch::Tensor fista(const torch::Tensor& x, const torch::Tensor& D, double alpha, int iters) {
    return fista_with(x, D.to(x.options()), alpha, iters, lipschitz_constant(D));
}

// ---------------------------------------------------------------------------------------------------------
// Learned ISTA

LISTAImpl::LISTAImpl(int n_, int K_, int steps_, double alpha_, std::string solver_)
    : n(n_), K(K_), steps(steps_), alpha(alpha_), solver(std::move(solver_)) {
    // The fixed parts are built in float64 and rounded once to float32, so that the same config gives the same
    // bits on every CPU and BLAS kernel: L is rounded to float32 (see lipschitz_constant), the Gram matrix's
    // rounding noise around its exact zeros is snapped to +0.
    auto D64 = dct_dictionary_f64(n, K);
    L = lipschitz_constant(D64);
    auto G = D64.t().matmul(D64);
    G = torch::where(G.abs() < kZeroSnap, torch::zeros_like(G), G);
    D = register_buffer("D", D64.to(torch::kFloat32).contiguous());
    W_e = register_parameter("W_e", (D64.t() / L).to(torch::kFloat32).contiguous());
    S = register_parameter("S", (torch::eye(K, torch::kFloat64) - G / L).to(torch::kFloat32).contiguous());
    theta = register_parameter("theta", torch::full({K}, static_cast<float>(alpha / L)));
}

torch::Tensor LISTAImpl::forward(const torch::Tensor& x) {
    if (solver == "ista") return ista_with(x, D, alpha, steps, L);
    if (solver == "fista") return fista_with(x, D, alpha, steps, L);
    auto b = x.matmul(W_e.t());  // B x K
    auto z = soft_threshold(b, theta);
    auto St = S.t();
    // Without autograd on the CPU, a code with few nonzeros multiplies S as a sparse matrix: nnz x K work
    // instead of B x K x K (the codes of a trained model have a handful of nonzeros per position).
    const bool may_sparse = !torch::GradMode::is_enabled() && x.device().is_cpu() && z.dim() == 2;
    for (int t = 1; t < steps; ++t) {
        torch::Tensor Sz;
        if (may_sparse && z.ne(0).sum().item<int64_t>() * 16 < z.numel())
            Sz = torch::mm(z.to_sparse(), St.contiguous());
        else
            Sz = z.matmul(St);
        z = soft_threshold(b + Sz, theta);
    }
    return z;
}

// ---------------------------------------------------------------------------------------------------------
// Encoder / decoder building blocks (taming-transformers' VQGAN)

int norm_groups(int wanted, int channels) {
    int g = std::max(1, std::min(wanted, channels));
    while (channels % g != 0) --g;
    return g;
}

namespace {

torch::nn::GroupNorm make_norm(int groups, int ch) {
    return torch::nn::GroupNorm(torch::nn::GroupNormOptions(norm_groups(groups, ch), ch).eps(1e-6).affine(true));
}

torch::nn::Conv2d conv(int in, int out, int k, int stride = 1, int pad = 0) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad));
}

// Swish (x * sigmoid(x), i.e. SiLU) as one fused kernel.
inline torch::Tensor swish(const torch::Tensor& x) { return torch::silu(x); }

// Without autograd (encoding, decoding, validation) the networks may overwrite their own intermediates and run
// in the channels-last layout, which LibTorch's oneDNN convolutions and GroupNorm use without reordering each
// tensor. With the sub-pixel upsampling below, bench_codec measures this path against the plain one at
// 1.13-1.25x (encoder) and 1.30-1.49x (decoder) on 1-2 threads. Training keeps the default layout (its backward
// pass was slower in channels-last) and out-of-place ops.
inline bool inference() { return !torch::GradMode::is_enabled(); }

inline torch::Tensor norm_swish(torch::nn::GroupNorm& norm, const torch::Tensor& x) {
    auto h = norm(x);
    return inference() ? torch::silu_(h) : torch::silu(h);
}

torch::Tensor inference_layout(const torch::Tensor& x) {
    return inference() && x.dim() == 4 && x.device().is_cpu() ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
}

struct SwishImpl : torch::nn::Module {
    torch::Tensor forward(const torch::Tensor& x) { return swish(x); }
};
TORCH_MODULE(Swish);

struct ResnetBlockImpl : torch::nn::Module {
    ResnetBlockImpl(int in, int out, int groups) {
        norm1 = register_module("norm1", make_norm(groups, in));
        conv1 = register_module("conv1", conv(in, out, 3, 1, 1));
        norm2 = register_module("norm2", make_norm(groups, out));
        conv2 = register_module("conv2", conv(out, out, 3, 1, 1));
        if (in != out) nin_shortcut = register_module("nin_shortcut", conv(in, out, 1));
    }
    torch::Tensor forward(const torch::Tensor& x) {
        auto h = conv2(norm_swish(norm2, conv1(norm_swish(norm1, x))));
        auto shortcut = nin_shortcut ? nin_shortcut(x) : x;
        return inference() ? h.add_(shortcut) : shortcut + h;
    }
    torch::nn::GroupNorm norm1{nullptr}, norm2{nullptr};
    torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, nin_shortcut{nullptr};
};
TORCH_MODULE(ResnetBlock);

// Single-head non-local (self-attention) block over the h*w positions.
struct AttnBlockImpl : torch::nn::Module {
    AttnBlockImpl(int ch, int groups) {
        norm = register_module("norm", make_norm(groups, ch));
        q = register_module("q", conv(ch, ch, 1));
        k = register_module("k", conv(ch, ch, 1));
        v = register_module("v", conv(ch, ch, 1));
        proj_out = register_module("proj_out", conv(ch, ch, 1));
    }
    torch::Tensor forward(const torch::Tensor& x) {
        auto h = norm(x);
        auto B = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
        const int64_t P = H * W;
        auto qq = q(h).reshape({B, C, P}).permute({0, 2, 1});  // B x hw x c
        auto kk = k(h).reshape({B, C, P});                      // B x c x hw
        auto vv = v(h).reshape({B, C, P}).permute({0, 2, 1});  // B x hw x c
        const double scale = 1.0 / std::sqrt(static_cast<double>(C));
        // Queries in chunks so that the hw x hw weights of a large image never exist at once
        // (at most ~16M weights per chunk).
        const int64_t chunk = std::max<int64_t>(1, (int64_t(1) << 24) / std::max<int64_t>(1, B * P));
        torch::Tensor out;
        if (chunk >= P) {
            out = torch::bmm(torch::softmax(torch::bmm(qq, kk) * scale, 2), vv);  // B x hw x c
        } else {
            std::vector<torch::Tensor> parts;
            for (int64_t s = 0; s < P; s += chunk) {
                auto qs = qq.slice(1, s, std::min(P, s + chunk));
                parts.push_back(torch::bmm(torch::softmax(torch::bmm(qs, kk) * scale, 2), vv));
            }
            out = torch::cat(parts, 1);
        }
        out = out.permute({0, 2, 1}).reshape({B, C, H, W});
        return x + proj_out(out);
    }
    torch::nn::GroupNorm norm{nullptr};
    torch::nn::Conv2d q{nullptr}, k{nullptr}, v{nullptr}, proj_out{nullptr};
};
TORCH_MODULE(AttnBlock);

// Stride-2 3x3 convolution with VQGAN's asymmetric (right/bottom) zero pad.
struct DownsampleImpl : torch::nn::Module {
    explicit DownsampleImpl(int ch) { convm = register_module("conv", conv(ch, ch, 3, 2, 0)); }
    torch::Tensor forward(const torch::Tensor& x) {
        return convm(F::pad(x, F::PadFuncOptions({0, 1, 0, 1}).mode(torch::kConstant).value(0)));
    }
    torch::nn::Conv2d convm{nullptr};
};
TORCH_MODULE(Downsample);

// Nearest-neighbour x2 then a 3x3 convolution.
//
// Without autograd the same function is computed in sub-pixel form: each output pixel (2i+a, 2j+b) of a 3x3
// convolution over the nearest-upsampled input reads only a 2x2 window of the input (rows i-1..i for a = 0,
// i..i+1 for a = 1; the same for columns), whose weights are sums of the 3x3 weights. So one 2x2 convolution
// with 4x the output channels on the padded low-resolution input gives all four phases: 16 multiply-adds per
// input pixel and channel pair instead of 36, and the upsampled tensor is never made.
struct UpsampleImpl : torch::nn::Module {
    explicit UpsampleImpl(int ch) { convm = register_module("conv", conv(ch, ch, 3, 1, 1)); }
    torch::Tensor forward(const torch::Tensor& x) {
        if (inference() && x.dim() == 4) return subpixel(x);
        auto up = F::interpolate(x, F::InterpolateFuncOptions()
                                        .scale_factor(std::vector<double>{2.0, 2.0})
                                        .mode(torch::kNearest));
        return convm(up);
    }
    torch::Tensor subpixel(const torch::Tensor& x) {
        const auto& w = convm->weight;  // O x I x 3 x 3
        torch::Tensor pw, pb;
        {
            // The tools' image workers share one network: the derived weights are made under a lock and used
            // through local references.
            std::lock_guard<std::mutex> lock(phase_mutex);
            if (!phase_w.defined() || phase_version != w._version() || phase_source != w.data_ptr() ||
                phase_w.device() != w.device()) {
                // R[a]: 2 x 3, which of the 3 taps of the upsampled grid fall on each of the 2 input taps of phase a
                auto R0 = torch::tensor({1.f, 0.f, 0.f, 0.f, 1.f, 1.f}, w.options()).reshape({2, 3});
                auto R1 = torch::tensor({1.f, 1.f, 0.f, 0.f, 0.f, 1.f}, w.options()).reshape({2, 3});
                std::vector<torch::Tensor> phases;  // (a, b) = (0,0), (0,1), (1,0), (1,1)
                for (const auto& Ra : {R0, R1})
                    for (const auto& Rb : {R0, R1}) phases.push_back(torch::einsum("pk,oikl,ql->oipq", {Ra, w, Rb}));
                phase_w = torch::cat(phases, 0).contiguous(torch::MemoryFormat::ChannelsLast);  // 4O x I x 2 x 2
                phase_b = convm->bias.repeat({4});
                phase_version = w._version();
                phase_source = w.data_ptr();
            }
            pw = phase_w;
            pb = phase_b;
        }
        const int64_t B = x.size(0), H = x.size(2), W = x.size(3), O = w.size(0);
        auto xp = F::pad(x, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kConstant).value(0));
        auto y = F::conv2d(xp, pw, F::Conv2dFuncOptions().bias(pb));  // B x 4O x (H+1) x (W+1)
        // output (2i+a, 2j+b) = phase (a, b) at window (i+a, j+b); assembled channels-last
        auto out = torch::empty({B, O, 2 * H, 2 * W}, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
        auto ov = out.view({B, O, H, 2, W, 2});
        for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
                ov.select(5, b).select(3, a).copy_(
                    y.slice(1, (2 * a + b) * O, (2 * a + b + 1) * O).slice(2, a, a + H).slice(3, b, b + W));
        return out;
    }
    torch::nn::Conv2d convm{nullptr};
    torch::Tensor phase_w, phase_b;  // the sub-pixel weights, remade when the 3x3 weights change
    int64_t phase_version = -1;      // the version counter and storage of the 3x3 weights they were made from
    const void* phase_source = nullptr;  // (an optimiser step bumps the first, replacing the weights the second)
    std::mutex phase_mutex;
};
TORCH_MODULE(Upsample);

bool has_level(const std::vector<int>& v, int level) {
    return std::find(v.begin(), v.end(), level) != v.end();
}

}  // namespace

EncoderImpl::EncoderImpl(const ModelConfig& cfg) {
    torch::nn::Sequential seq;
    auto add = [&](auto module, std::string what) {
        seq->push_back(module);
        layers.push_back(std::move(what));
    };
    const int ch = cfg.channels, levels = static_cast<int>(cfg.ch_mult.size());
    add(conv(cfg.in_channels, ch, 3, 1, 1), "conv_in");
    int block_in = ch;
    for (int i = 0; i < levels; ++i) {
        int block_out = ch * cfg.ch_mult[i];
        for (int b = 0; b < cfg.num_res_blocks; ++b) {
            const std::string at = std::to_string(i) + "." + std::to_string(b);
            add(ResnetBlock(block_in, block_out, cfg.groups), "res " + at);
            block_in = block_out;
            if (has_level(cfg.attn_levels, i)) add(AttnBlock(block_in, cfg.groups), "attn " + at);
        }
        if (i != levels - 1) add(Downsample(block_in), "down " + std::to_string(i));
    }
    add(ResnetBlock(block_in, block_in, cfg.groups), "mid1");
    if (cfg.mid_attention) add(AttnBlock(block_in, cfg.groups), "mid_attn");
    add(ResnetBlock(block_in, block_in, cfg.groups), "mid2");
    add(make_norm(cfg.groups, block_in), "norm_out");
    add(Swish(), "swish");
    add(conv(block_in, cfg.n, 3, 1, 1), "conv_out");
    body = register_module("body", seq);
}

torch::Tensor EncoderImpl::forward(torch::Tensor x) { return body->forward(inference_layout(x)); }

DecoderImpl::DecoderImpl(const ModelConfig& cfg) {
    torch::nn::Sequential seq;
    auto add = [&](auto module, std::string what) {
        seq->push_back(module);
        layers.push_back(std::move(what));
    };
    const int ch = cfg.channels, levels = static_cast<int>(cfg.ch_mult.size());
    int block_in = ch * cfg.ch_mult[levels - 1];
    add(conv(cfg.n, block_in, 3, 1, 1), "conv_in");
    add(ResnetBlock(block_in, block_in, cfg.groups), "mid1");
    if (cfg.mid_attention) add(AttnBlock(block_in, cfg.groups), "mid_attn");
    add(ResnetBlock(block_in, block_in, cfg.groups), "mid2");
    for (int i = levels - 1; i >= 0; --i) {
        int block_out = ch * cfg.ch_mult[i];
        for (int b = 0; b < cfg.num_res_blocks + 1; ++b) {
            const std::string at = std::to_string(i) + "." + std::to_string(b);
            add(ResnetBlock(block_in, block_out, cfg.groups), "res " + at);
            block_in = block_out;
            if (has_level(cfg.attn_levels, i)) add(AttnBlock(block_in, cfg.groups), "attn " + at);
        }
        if (i != 0) add(Upsample(block_in), "up " + std::to_string(i));
    }
    add(make_norm(cfg.groups, block_in), "norm_out");
    add(Swish(), "swish");
    add(conv(block_in, cfg.in_channels, 3, 1, 1), "conv_out");
    body = register_module("body", seq);
}

torch::Tensor DecoderImpl::forward(torch::Tensor z) { return body->forward(inference_layout(z)); }

// ---------------------------------------------------------------------------------------------------------
// SC-VAE

// ---------------------------------------------------------------------------------------------------------
// VQ

VQImpl::VQImpl(int n_, int K_, double ema_decay_) : n(n_), K(K_), ema_decay(ema_decay_) {
    if (ema_decay > 0) {
        codebook = register_buffer("codebook", torch::zeros({K, n}));
        ema_count = register_buffer("ema_count", torch::zeros({K}));
        ema_sum = register_buffer("ema_sum", torch::zeros({K, n}));
    } else {
        codebook = register_parameter("codebook", torch::zeros({K, n}));
    }
}

torch::Tensor VQImpl::assign(const torch::Tensor& x) {
    torch::NoGradGuard ng;
    auto xd = x.detach();
    auto cb = codebook.detach();
    // ||x - e||^2 = ||x||^2 - 2 x.e + ||e||^2; ||x||^2 does not change the argmin
    auto dist = torch::addmm(cb.pow(2).sum(1).unsqueeze(0), xd, cb.t(), 1.0, -2.0);
    auto idx = dist.argmin(1);
    return torch::zeros({x.size(0), K}, x.options().requires_grad(false)).scatter_(1, idx.unsqueeze(1), 1.0);
}

void VQImpl::ema_update(const torch::Tensor& count, const torch::Tensor& sum) {
    torch::NoGradGuard ng;
    const double g = ema_decay, eps = 1e-5;
    ema_count.mul_(g).add_(count, 1 - g);
    ema_sum.mul_(g).add_(sum, 1 - g);
    // Laplace smoothing keeps an entry that no vector picks from dividing by zero
    auto total = ema_count.sum();
    auto smoothed = (ema_count + eps) / (total + K * eps) * total;
    codebook.copy_(ema_sum / smoothed.unsqueeze(1));
}

// ---------------------------------------------------------------------------------------------------------
// SC-VAE

SCVAEImpl::SCVAEImpl(const ModelConfig& c) : cfg(c) {
    cfg.validate();
    encoder = register_module("encoder", Encoder(cfg));
    if (cfg.vq())
        vq = register_module("vq", VQ(cfg.n, cfg.K, cfg.ema_decay));
    else
        lista = register_module("lista", LISTA(cfg.n, cfg.K, cfg.steps, cfg.alpha, cfg.solver));
    decoder = register_module("decoder", Decoder(cfg));
}

torch::Tensor SCVAEImpl::atoms() { return cfg.vq() ? vq->codebook.t() : lista->D; }

torch::Tensor SCVAEImpl::encode_codes(const torch::Tensor& x) {
    auto latent = encoder(x);  // B x n x h x w
    auto B = latent.size(0), h = latent.size(2), w = latent.size(3);
    auto flat = latent.permute({0, 2, 3, 1}).reshape({B * h * w, cfg.n});
    return (cfg.vq() ? vq->assign(flat) : lista(flat)).reshape({B, h, w, cfg.K});
}

torch::Tensor SCVAEImpl::decode_codes(const torch::Tensor& z) {
    auto B = z.size(0), h = z.size(1), w = z.size(2);
    auto lat = z.reshape({B * h * w, cfg.K}).matmul(atoms().t());  // (D z)^T per position
    lat = lat.reshape({B, h, w, cfg.n}).permute({0, 3, 1, 2}).contiguous();
    return decoder(lat);
}

SCVAEOutput SCVAEImpl::forward(const torch::Tensor& x) {
    SCVAEOutput out;
    out.latent = encoder(x);
    auto B = out.latent.size(0), h = out.latent.size(2), w = out.latent.size(3);
    auto flat = out.latent.permute({0, 2, 3, 1}).reshape({B * h * w, cfg.n});
    if (cfg.vq()) {
        auto z = vq->assign(flat);
        out.code = z.reshape({B, h, w, cfg.K});
        out.quantised = z.matmul(vq->codebook).reshape({B, h, w, cfg.n}).permute({0, 3, 1, 2}).contiguous();
        out.latent_hat = out.latent + (out.quantised - out.latent).detach();  // straight-through
        out.vq_beta = cfg.beta;
        out.vq_ema = cfg.ema_decay > 0;
        if (out.vq_ema && is_training()) {
            torch::NoGradGuard ng;
            vq->batch_count = z.sum(0);
            vq->batch_sum = z.t().matmul(flat.detach());
        }
    } else {
        auto z = lista(flat);
        out.code = z.reshape({B, h, w, cfg.K});
        out.latent_hat = z.matmul(lista->D.t()).reshape({B, h, w, cfg.n}).permute({0, 3, 1, 2}).contiguous();
    }
    out.x_hat = decoder(out.latent_hat);
    return out;
}

SCVAELoss scvae_loss(const SCVAEOutput& out, const torch::Tensor& x, double alpha) {
    SCVAELoss l;
    const auto B = static_cast<double>(x.size(0));
    const auto hw = static_cast<double>(out.latent.size(2) * out.latent.size(3));
    // [-1,1] -> [0,1]: the difference halves.
    auto diff = (out.x_hat - x) * 0.5;
    l.rec = diff.pow(2).sum() / B;
    if (out.quantised.defined()) {  // vq
        auto commit = (out.latent - out.quantised.detach()).pow(2).sum();
        auto book = out.vq_ema ? torch::zeros({}, commit.options()) : (out.latent.detach() - out.quantised).pow(2).sum();
        l.latent = (book + out.vq_beta * commit) / B;
        l.latent_mse = commit.detach() / static_cast<double>(out.latent.numel());
        l.l1 = out.code.abs().sum() / (B * hw);
        l.total = l.rec + l.latent / hw;
        return l;
    }
    auto lat_sq = (out.latent - out.latent_hat).pow(2).sum();
    auto l1 = out.code.abs().sum();
    l.latent = (lat_sq + alpha * l1) / B;
    l.latent_mse = lat_sq / static_cast<double>(out.latent.numel());
    l.l1 = l1 / (B * hw);  // mean ||z_ij||_1 per position
    l.total = l.rec + l.latent / hw;
    return l;
}

}  // namespace scvae
