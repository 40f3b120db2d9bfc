// engine.cpp - SC-VAE's inference pass on the CPU without LibTorch (see engine.h).
//
// Layout: every activation is a B x H x W x C float32 buffer (NHWC), which is what oneDNN's convolutions read
// and write without reordering and what the 1x1 projections and the solvers see as a (B*H*W) x C matrix.
// The modules follow model/networks.cpp one for one (names, order, eps, the asymmetric pad of Downsample, the
// sub-pixel form of Upsample, the chunked attention, the sparse S product of LISTA); the tensor names are the
// LibTorch ones (encoder.body.3.conv1.weight, ...), as the model file stores them.
#include "infer/engine.h"

#include <cblas.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "scvae/error.h"

extern "C" {
// LAPACK: eigenvalues of a symmetric matrix (for the Lipschitz constant of the classic solvers)
void dsyev_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work,
            const int* lwork, int* info);
}

namespace scvae::infer {

// ---------------------------------------------------------------------------------------------------------
// Buffers and element-wise pieces

namespace {

// Recycled activation memory. The buffer sizes repeat image after image (one set per input size), so after the
// first image of a size a process takes every buffer from here: no allocation, no new page to fault in (the
// kernel's share of the time), and a peak RSS that stays flat over a stream of any length instead of growing with
// the heap's fragmentation. A request takes the smallest free block that holds it, if that block is at most kFit
// times larger: one 256x256 decode then touches 57 MiB of fresh memory instead of 101 MiB by exact sizes (its
// live activations peak at 40 MiB), and encode 28 MiB instead of 43, which is what a short run spends in the
// kernel zeroing pages. At most kPoolCap bytes wait here; the least recently returned go back to malloc first.
class Pool {
public:
    static Pool& instance() {
        static Pool pool;
        return pool;
    }
    ~Pool() {
        for (auto& e : lru_) std::free(e.second);
    }
    float* take(size_t bytes, size_t* capacity) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            auto it = by_size_.lower_bound(bytes);  // the smallest block that holds `bytes`
            if (it != by_size_.end() && it->first / kFit <= bytes) {
                float* p = it->second->second;
                *capacity = it->first;
                lru_.erase(it->second);
                by_size_.erase(it);
                pooled_ -= *capacity;
                return p;
            }
        }
        *capacity = bytes;
        auto* p = static_cast<float*>(std::aligned_alloc(64, bytes));
        if (!p) throw Error("out of memory (" + std::to_string(bytes >> 20) + " MiB for an activation)");
        return p;
    }
    void give(float* p, size_t bytes) {
        std::vector<float*> evicted;
        {
            std::lock_guard<std::mutex> lock(mu_);
            if (bytes > kPoolCap) {
                evicted.push_back(p);
            } else {
                while (pooled_ + bytes > kPoolCap) {  // the least recently returned first
                    auto& old = lru_.front();
                    auto range = by_size_.equal_range(old.first);
                    for (auto it = range.first; it != range.second; ++it)
                        if (it->second == lru_.begin()) {
                            by_size_.erase(it);
                            break;
                        }
                    pooled_ -= old.first;
                    evicted.push_back(old.second);
                    lru_.pop_front();
                }
                lru_.emplace_back(bytes, p);
                by_size_.emplace(bytes, std::prev(lru_.end()));
                pooled_ += bytes;
            }
        }
        for (float* e : evicted) std::free(e);
    }

private:
    static constexpr size_t kPoolCap = size_t(512) << 20;
    static constexpr size_t kFit = 4;  // a block serves requests down to a quarter of its size
    using Entry = std::pair<size_t, float*>;
    std::mutex mu_;
    std::list<Entry> lru_;  // oldest first
    std::multimap<size_t, std::list<Entry>::iterator> by_size_;
    size_t pooled_ = 0;
};

// A 64-byte aligned float buffer (uninitialised) from the pool.
class Buf {
public:
    Buf() = default;
    explicit Buf(size_t n) : n_(n) {
        if (n == 0) return;
        p_ = Pool::instance().take(bytes(), &cap_);
    }
    Buf(Buf&& o) noexcept : p_(o.p_), n_(o.n_), cap_(o.cap_) { o.p_ = nullptr, o.n_ = 0, o.cap_ = 0; }
    Buf& operator=(Buf&& o) noexcept {
        std::swap(p_, o.p_);
        std::swap(n_, o.n_);
        std::swap(cap_, o.cap_);
        return *this;
    }
    Buf(const Buf&) = delete;
    Buf& operator=(const Buf&) = delete;
    ~Buf() {
        if (p_) Pool::instance().give(p_, cap_);
    }
    float* data() const { return p_; }
    size_t size() const { return n_; }

private:
    size_t bytes() const { return (n_ * sizeof(float) + 63) / 64 * 64; }
    float* p_ = nullptr;
    size_t n_ = 0;
    size_t cap_ = 0;  // bytes of the block (a pooled block may be larger than asked for)
};

// An activation: the buffer and its shape (NHWC).
struct Act {
    Buf buf;
    int B = 0, H = 0, W = 0, C = 0;
    Act() = default;
    Act(int b, int h, int w, int c) : buf(size_t(b) * h * w * c), B(b), H(h), W(w), C(c) {}
    float* data() const { return buf.data(); }
    long pixels() const { return long(H) * W; }
};

// The element-wise kernels, compiled for AVX-512, AVX2 + FMA and the baseline, picked at load time (GCC's
// target_clones): LibTorch's own kernels are dispatched the same way. Each takes a block of rows, so the
// dispatch costs one indirect call per block, and OpenMP splits the blocks (an outlined OpenMP body would not
// inherit a target attribute).
#define SCVAE_KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))

// exp(x) for float (Cephes expf: x = n ln2 + r, |r| <= ln2/2, exp(r) by a degree-6 polynomial, 2^n by the
// exponent bits); branch-free, so that the loops around it vectorise. Relative error below 3e-7 over [-87, 88].
__attribute__((always_inline)) inline float exp_approx(float x) {
    // clamp to [-87.3, 88.3]; a NaN becomes -87.3 (no float-to-int conversion of a NaN). Comparisons, not
    // std::fmin/fmax: GCC calls libm for those (their NaN rule is not minps/maxps'), which kept every loop
    // around this function scalar (a third of scvae-decode's time)
    x = x > -87.3f ? x : -87.3f;
    x = x < 88.3f ? x : 88.3f;
    const float t = x * 1.44269504088896341f;
    const float n = (t + 12582912.f) - 12582912.f;  // round to nearest (|t| < 2^22)
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = p * r * r + r + 1.f;
    union {
        int32_t i;
        float f;
    } scale;
    scale.i = (static_cast<int32_t>(n) + 127) << 23;
    return y * scale.f;
}

// h_theta(v) = sign(v) max(|v| - theta, 0) over `rows` rows of K. A NaN stays NaN (as in LibTorch), so that the
// codes of a damaged model are refused by the Codec's check instead of coming out as zeros.
SCVAE_KERNEL void soft_rows(const float* v, float* z, long rows, int K, const float* theta) {
    for (long r = 0; r < rows; ++r) {
        const float* vr = v + r * K;
        float* zr = z + r * K;
#pragma omp simd
        for (int k = 0; k < K; ++k) {
            const float x = vr[k];
            float a = std::fabs(x) - theta[k];
            a = a < 0.f ? 0.f : a;
            zr[k] = x > 0.f ? a : (x < 0.f ? -a : x * 0.f);
        }
    }
}

// per-channel sums over `rows` pixels of C channels: acc[c] += x[c], or (x[c] - centre[c])^2 when `centre`
SCVAE_KERNEL void channel_sums(const float* x, long rows, int C, const float* centre, float* acc) {
    for (long p = 0; p < rows; ++p) {
        const float* xp = x + p * C;
        if (!centre) {
#pragma omp simd
            for (int c = 0; c < C; ++c) acc[c] += xp[c];
        } else {
#pragma omp simd
            for (int c = 0; c < C; ++c) {
                const float d = xp[c] - centre[c];
                acc[c] += d * d;
            }
        }
    }
}

// y = a x + b per channel, then Swish (y sigmoid(y)) when `swish`, over `rows` pixels of C channels
SCVAE_KERNEL void affine_rows(const float* x, float* y, long rows, int C, const float* a, const float* b, bool swish) {
    for (long p = 0; p < rows; ++p) {
        const float* xr = x + p * C;
        float* yr = y + p * C;
        if (swish) {
#pragma omp simd
            for (int c = 0; c < C; ++c) {
                const float v = a[c] * xr[c] + b[c];
                yr[c] = v / (1.f + exp_approx(-v));
            }
        } else {
#pragma omp simd
            for (int c = 0; c < C; ++c) yr[c] = a[c] * xr[c] + b[c];
        }
    }
}

// row = softmax(row) in place, for `rows` rows of P
SCVAE_KERNEL void softmax_rows(float* s, long rows, long P) {
    for (long i = 0; i < rows; ++i) {
        float* row = s + i * P;
        float mx = row[0];
#pragma omp simd reduction(max : mx)
        for (long j = 0; j < P; ++j) mx = std::max(mx, row[j]);
        float sum = 0.f;
#pragma omp simd reduction(+ : sum)
        for (long j = 0; j < P; ++j) {
            row[j] = exp_approx(row[j] - mx);
            sum += row[j];
        }
        const float inv = 1.f / sum;
#pragma omp simd
        for (long j = 0; j < P; ++j) row[j] *= inv;
    }
}

// v_r += sum_j z_rj St_j for `rows` rows (the sparse S z of LISTA: only the non-zeros of z cost)
SCVAE_KERNEL void sparse_rows(const float* z, const float* St, float* v, long rows, int K) {
    for (long r = 0; r < rows; ++r) {
        const float* zr = z + r * K;
        float* vr = v + r * K;
        for (int j = 0; j < K; ++j) {
            const float zj = zr[j];
            if (zj == 0.f) continue;
            const float* sj = St + size_t(j) * K;
#pragma omp simd
            for (int k = 0; k < K; ++k) vr[k] += zj * sj[k];
        }
    }
}

// Runs fn(first, count) over [0, n) in blocks of `block` on the OpenMP threads.
template <class Fn>
void for_blocks(long n, long block, Fn fn) {
    const long nb = (n + block - 1) / block;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < nb; ++i) fn(i * block, std::min(block, n - i * block));
}

void soft_threshold_rows(const float* v, float* z, long rows, int K, const float* theta) {
    for_blocks(rows, 64, [&](long r0, long m) { soft_rows(v + r0 * K, z + r0 * K, m, K, theta); });
}

int norm_groups(int wanted, int channels) {  // as model/networks.cpp
    int g = std::max(1, std::min(wanted, channels));
    while (channels % g != 0) --g;
    return g;
}

// y = x A^T + bias for rows of x (M x I), A: O x I (a 1x1 convolution's weight); y: M x O.
void linear(const float* x, long M, int I, const std::vector<float>& A, const std::vector<float>& bias, int O,
            float* y, bool accumulate = false) {
    if (!accumulate) {
        for (long r = 0; r < M; ++r) std::memcpy(y + r * O, bias.data(), sizeof(float) * O);
    } else {
        for (long r = 0; r < M; ++r)
            for (int o = 0; o < O; ++o) y[r * O + o] += bias[o];
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(M), O, I, 1.f, x, I, A.data(), I, 1.f, y, O);
}

}  // namespace

namespace detail {

float fast_exp(float x) { return exp_approx(x); }

void group_norm(const float* x, float* y, int B, long P, int C, int G, const float* gamma, const float* beta,
                float eps, bool swish) {
    const int cg = C / G;
    // Per-channel sums over fixed pixel blocks (the same blocks whatever the thread count, so the result does
    // not depend on it), float inside a block, double across blocks; two passes (mean, then squared deviations).
    constexpr long kBlock = 256;
    const long nblocks = (P + kBlock - 1) / kBlock;
    std::vector<double> part(size_t(nblocks) * C);
    std::vector<float> a(size_t(B) * C), b(size_t(B) * C);
    for (int bi = 0; bi < B; ++bi) {
        const float* xb = x + size_t(bi) * P * C;
        std::vector<double> mean(G), rstd(G);
        for (int pass = 0; pass < 2; ++pass) {
            std::vector<float> centre(C, 0.f);
            if (pass == 1)
                for (int c = 0; c < C; ++c) centre[c] = static_cast<float>(mean[c / cg]);
#pragma omp parallel for schedule(static)
            for (long blk = 0; blk < nblocks; ++blk) {
                std::vector<float> acc(C, 0.f);
                const long p0 = blk * kBlock, p1 = std::min(P, p0 + kBlock);
                channel_sums(xb + p0 * C, p1 - p0, C, pass == 0 ? nullptr : centre.data(), acc.data());
                for (int c = 0; c < C; ++c) part[size_t(blk) * C + c] = acc[c];
            }
            for (int g = 0; g < G; ++g) {
                double s = 0;
                for (long blk = 0; blk < nblocks; ++blk)
                    for (int c = g * cg; c < (g + 1) * cg; ++c) s += part[size_t(blk) * C + c];
                s /= double(P) * cg;
                if (pass == 0) {
                    mean[g] = s;
                } else {
                    // the centre was the mean rounded to float: correct the second moment for that offset
                    const double off = static_cast<double>(static_cast<float>(mean[g])) - mean[g];
                    const double var = std::max(0.0, s - off * off);
                    rstd[g] = 1.0 / std::sqrt(var + eps);
                }
            }
        }
        for (int c = 0; c < C; ++c) {
            const double sc = gamma[c] * rstd[c / cg];
            a[size_t(bi) * C + c] = static_cast<float>(sc);
            b[size_t(bi) * C + c] = static_cast<float>(beta[c] - mean[c / cg] * sc);
        }
    }
    for (int bi = 0; bi < B; ++bi) {
        const float* ac = a.data() + size_t(bi) * C;
        const float* bc = b.data() + size_t(bi) * C;
        const size_t off = size_t(bi) * P * C;
        for_blocks(P, 64, [&](long p0, long m) { affine_rows(x + off + p0 * C, y + off + p0 * C, m, C, ac, bc, swish); });
    }
}

}  // namespace detail

namespace {

using detail::group_norm;

// ---------------------------------------------------------------------------------------------------------
// Convolutions (oneDNN)

dnnl::engine& cpu_engine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
}

// One convolution primitive for one input shape, with its weights in the primitive's preferred layout.
struct ConvPrim {
    dnnl::convolution_forward prim;
    dnnl::memory weights, bias;
    dnnl::memory::desc src_md, dst_md, scratch_md;
};

struct Conv {
    int in = 0, out = 0, k = 1, stride = 1, pad_l = 0, pad_r = 0;
    std::vector<float> w, b;  // O x I x k x k, O

    int out_size(int s) const { return (s + pad_l + pad_r - k) / stride + 1; }

    // dst (B x Ho x Wo x out) = conv(src), or += with `accumulate` (oneDNN's sum post-op)
    void run(const float* src, int B, int H, int W, float* dst, bool accumulate) const {
        std::shared_ptr<const ConvPrim> p = prim(B, H, W, accumulate);
        auto& eng = cpu_engine();
        dnnl::memory sm(p->src_md, eng, const_cast<float*>(src));
        dnnl::memory dm(p->dst_md, eng, dst);
        std::unordered_map<int, dnnl::memory> args{
            {DNNL_ARG_SRC, sm}, {DNNL_ARG_WEIGHTS, p->weights}, {DNNL_ARG_BIAS, p->bias}, {DNNL_ARG_DST, dm}};
        Buf scratch((p->scratch_md.get_size() + sizeof(float) - 1) / sizeof(float));
        if (scratch.size()) args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(p->scratch_md, eng, scratch.data()));
        dnnl::stream s(eng);
        p->prim.execute(s, args);
        s.wait();
    }

private:
    mutable std::mutex mu_;
    mutable std::map<std::tuple<int, int, int, bool>, std::shared_ptr<const ConvPrim>> prims_;
    mutable std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> reordered_;  // weights per layout

    std::shared_ptr<const ConvPrim> prim(int B, int H, int W, bool accumulate) const {
        std::lock_guard<std::mutex> lock(mu_);
        const auto key = std::make_tuple(B, H, W, accumulate);
        auto it = prims_.find(key);
        if (it != prims_.end()) return it->second;
        using md = dnnl::memory::desc;
        using dt = dnnl::memory::data_type;
        using tag = dnnl::memory::format_tag;
        auto& eng = cpu_engine();
        const md src_md({B, in, H, W}, dt::f32, tag::nhwc);
        const md dst_md({B, out, out_size(H), out_size(W)}, dt::f32, tag::nhwc);
        const md w_any({out, in, k, k}, dt::f32, tag::any);
        const md b_md({out}, dt::f32, tag::a);
        dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
                                          src_md, w_any, b_md, dst_md, {stride, stride}, {pad_l, pad_l},
                                          {pad_r, pad_r});
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per call: several threads may run it at once
        if (accumulate) {
            dnnl::post_ops po;
            po.append_sum(1.f);
            attr.set_post_ops(po);
        }
        dnnl::convolution_forward::primitive_desc pd(d, attr, eng);
        auto p = std::make_shared<ConvPrim>();
        p->prim = dnnl::convolution_forward(pd);
        p->src_md = src_md;
        p->dst_md = dst_md;
        p->scratch_md = pd.scratchpad_desc();
        for (const auto& [desc, mem] : reordered_)
            if (desc == pd.weights_desc()) p->weights = mem;
        if (!p->weights) {
            dnnl::memory user(md({out, in, k, k}, dt::f32, tag::oihw), eng, const_cast<float*>(w.data()));
            dnnl::memory wm(pd.weights_desc(), eng);
            dnnl::stream s(eng);
            dnnl::reorder(user, wm).execute(s, user, wm);
            s.wait();
            reordered_.emplace_back(pd.weights_desc(), wm);
            p->weights = wm;
        }
        p->bias = dnnl::memory(b_md, eng);
        std::memcpy(p->bias.get_data_handle(), b.data(), sizeof(float) * out);
        prims_.emplace(key, p);
        return p;
    }
};

// ---------------------------------------------------------------------------------------------------------
// The modules

// Reads the tensors of one module by LibTorch name, checking sizes.
struct Reader {
    const TensorSource& get;
    std::vector<float> take(const std::string& name, size_t numel) const {
        std::vector<float> v = get(name);
        if (v.size() != numel)
            throw Error("model tensor " + name + " has " + std::to_string(v.size()) + " values, expected " +
                        std::to_string(numel));
        return v;
    }
    std::unique_ptr<Conv> conv(const std::string& prefix, int in, int out, int k, int stride = 1, int pad = -1) const {
        auto c = std::make_unique<Conv>();
        c->in = in, c->out = out, c->k = k, c->stride = stride;
        c->pad_l = c->pad_r = pad >= 0 ? pad : k / 2;
        c->w = take(prefix + "weight", size_t(out) * in * k * k);
        c->b = take(prefix + "bias", size_t(out));
        return c;
    }
};

struct Norm {
    int C = 0, G = 1;
    std::vector<float> gamma, beta;
    Norm() = default;
    Norm(const Reader& r, const std::string& prefix, int groups, int ch)
        : C(ch), G(norm_groups(groups, ch)), gamma(r.take(prefix + "weight", ch)), beta(r.take(prefix + "bias", ch)) {}
    void apply(const float* x, float* y, int B, long P, bool swish) const {
        group_norm(x, y, B, P, C, G, gamma.data(), beta.data(), 1e-6f, swish);
    }
};

struct Module {
    virtual ~Module() = default;
    virtual Act forward(Act x) const = 0;
};

struct ConvModule : Module {
    std::unique_ptr<Conv> c;
    explicit ConvModule(std::unique_ptr<Conv> conv) : c(std::move(conv)) {}
    Act forward(Act x) const override {
        Act y(x.B, c->out_size(x.H), c->out_size(x.W), c->out);
        c->run(x.data(), x.B, x.H, x.W, y.data(), false);
        return y;
    }
};

struct NormSwishModule : Module {
    Norm norm;
    explicit NormSwishModule(Norm n) : norm(std::move(n)) {}
    Act forward(Act x) const override {
        norm.apply(x.data(), x.data(), x.B, x.pixels(), true);
        return x;
    }
};

struct ResnetBlock : Module {
    Norm norm1, norm2;
    std::unique_ptr<Conv> conv1, conv2, nin;
    ResnetBlock(const Reader& r, const std::string& p, int in, int out, int groups)
        : norm1(r, p + "norm1.", groups, in), norm2(r, p + "norm2.", groups, out),
          conv1(r.conv(p + "conv1.", in, out, 3)), conv2(r.conv(p + "conv2.", out, out, 3)) {
        if (in != out) nin = r.conv(p + "nin_shortcut.", in, out, 1);
    }
    Act forward(Act x) const override {
        Act t(x.B, x.H, x.W, x.C);
        norm1.apply(x.data(), t.data(), x.B, x.pixels(), true);
        Act h(x.B, x.H, x.W, conv1->out);
        conv1->run(t.data(), x.B, x.H, x.W, h.data(), false);
        t = Act();
        norm2.apply(h.data(), h.data(), h.B, h.pixels(), true);
        if (nin) {  // out = nin(x) + conv2(h)
            Act y(x.B, x.H, x.W, nin->out);
            nin->run(x.data(), x.B, x.H, x.W, y.data(), false);
            x = Act();
            conv2->run(h.data(), h.B, h.H, h.W, y.data(), true);
            return y;
        }
        conv2->run(h.data(), h.B, h.H, h.W, x.data(), true);  // x + conv2(h), in place
        return x;
    }
};

struct AttnBlock : Module {
    Norm norm;
    int C;
    std::vector<float> wq, bq, wk, bk, wv, bv, wp, bp;
    AttnBlock(const Reader& r, const std::string& p, int ch, int groups) : norm(r, p + "norm.", groups, ch), C(ch) {
        const size_t cc = size_t(ch) * ch;
        wq = r.take(p + "q.weight", cc), bq = r.take(p + "q.bias", ch);
        wk = r.take(p + "k.weight", cc), bk = r.take(p + "k.bias", ch);
        wv = r.take(p + "v.weight", cc), bv = r.take(p + "v.bias", ch);
        wp = r.take(p + "proj_out.weight", cc), bp = r.take(p + "proj_out.bias", ch);
    }
    Act forward(Act x) const override {
        const long P = x.pixels(), M = long(x.B) * P;
        Buf h(size_t(M) * C);
        norm.apply(x.data(), h.data(), x.B, P, false);
        Buf q(size_t(M) * C), k(size_t(M) * C), v(size_t(M) * C);
        linear(h.data(), M, C, wq, bq, C, q.data());
        linear(h.data(), M, C, wk, bk, C, k.data());
        linear(h.data(), M, C, wv, bv, C, v.data());
        Buf& o = h;  // the normalised input is no longer needed
        const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(C)));
        // queries in chunks: at most ~16M attention weights at once, as the LibTorch module
        const long chunk = std::max<long>(1, std::min<long>(P, (long(1) << 24) / std::max<long>(1, P)));
        Buf s(size_t(chunk) * P);
        for (int b = 0; b < x.B; ++b) {
            const float* qb = q.data() + size_t(b) * P * C;
            const float* kb = k.data() + size_t(b) * P * C;
            const float* vb = v.data() + size_t(b) * P * C;
            for (long s0 = 0; s0 < P; s0 += chunk) {
                const long m = std::min(chunk, P - s0);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(P), C, scale, qb + s0 * C, C, kb, C,
                            0.f, s.data(), int(P));
                for_blocks(m, 8, [&](long i0, long mm) { softmax_rows(s.data() + i0 * P, mm, P); });
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(m), C, int(P), 1.f, s.data(), int(P), vb, C,
                            0.f, o.data() + (size_t(b) * P + s0) * C, C);
            }
        }
        linear(o.data(), M, C, wp, bp, C, x.data(), true);  // x + proj_out(o)
        return x;
    }
};

// Stride-2 3x3 convolution with the asymmetric (right/bottom) zero pad of VQGAN.
std::unique_ptr<Conv> downsample_conv(const Reader& r, const std::string& p, int ch) {
    auto c = r.conv(p + "conv.", ch, ch, 3, 2, 0);
    c->pad_r = 1;
    return c;
}

// Nearest x2 then a 3x3 convolution, in the sub-pixel form of model/networks.cpp: one 2x2 convolution with 4x the
// output channels on the input padded by 1, whose phase (a, b) gives output pixels (2i+a, 2j+b).
struct Upsample : Module {
    Conv phase;
    int O;
    Upsample(const Reader& r, const std::string& p, int ch) : O(ch) {
        const std::vector<float> w = r.take(p + "conv.weight", size_t(ch) * ch * 9);
        const std::vector<float> b = r.take(p + "conv.bias", size_t(ch));
        // R[a][p][k]: whether tap k of the upsampled 3x3 window falls on input tap p of phase a
        static const float R[2][2][3] = {{{1, 0, 0}, {0, 1, 1}}, {{1, 1, 0}, {0, 0, 1}}};
        phase.in = ch, phase.out = 4 * ch, phase.k = 2, phase.stride = 1, phase.pad_l = phase.pad_r = 1;
        phase.w.assign(size_t(4) * ch * ch * 4, 0.f);
        phase.b.resize(size_t(4) * ch);
        for (int a = 0; a < 2; ++a)
            for (int bb = 0; bb < 2; ++bb) {
                const int ph = 2 * a + bb;
                for (int o = 0; o < ch; ++o) {
                    phase.b[size_t(ph) * ch + o] = b[o];
                    for (int i = 0; i < ch; ++i)
                        for (int pp = 0; pp < 2; ++pp)
                            for (int qq = 0; qq < 2; ++qq) {
                                float sum = 0.f;
                                for (int kk = 0; kk < 3; ++kk)
                                    for (int ll = 0; ll < 3; ++ll)
                                        if (R[a][pp][kk] != 0.f && R[bb][qq][ll] != 0.f)
                                            sum += w[((size_t(o) * ch + i) * 3 + kk) * 3 + ll];
                                phase.w[((size_t(ph * ch + o) * ch + i) * 2 + pp) * 2 + qq] = sum;
                            }
                }
            }
    }
    Act forward(Act x) const override {
        const int H = x.H, W = x.W;
        Act y(x.B, H + 1, W + 1, 4 * O);
        phase.run(x.data(), x.B, H, W, y.data(), false);
        x = Act();
        Act out(y.B, 2 * H, 2 * W, O);
        const long rows = long(y.B) * H;
#pragma omp parallel for schedule(static)
        for (long r = 0; r < rows; ++r) {
            const long b = r / H, i = r % H;
            for (int a = 0; a < 2; ++a)
                for (int j = 0; j < W; ++j)
                    for (int bb = 0; bb < 2; ++bb) {
                        const float* src =
                            y.data() + ((size_t(b) * (H + 1) + (i + a)) * (W + 1) + (j + bb)) * 4 * O + (2 * a + bb) * O;
                        float* dst = out.data() + ((size_t(b) * 2 * H + (2 * i + a)) * 2 * W + (2 * j + bb)) * O;
                        std::memcpy(dst, src, sizeof(float) * O);
                    }
        }
        return out;
    }
};

bool has_level(const std::vector<int>& v, int level) { return std::find(v.begin(), v.end(), level) != v.end(); }

// Sequential body with LibTorch's numbering (prefix + index + ".").
struct Body {
    std::string prefix;
    std::vector<std::unique_ptr<Module>> mods;
    std::string next() const { return prefix + std::to_string(mods.size()) + "."; }
    Act forward(Act x) const {
        for (const auto& m : mods) x = m->forward(std::move(x));
        return x;
    }
};

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Network

struct Network::Impl {
    ModelConfig cfg;
    Body encoder, decoder;
    // sparse coding: W_e (K x n), S (K x K) and its transpose, theta (K), D (n x K) and its rows D^T (K x n)
    std::vector<float> We, S, St, theta, D, atom_rows;
    std::string solver = "lista";
    int steps = 0;
    float L = 0.f;  // Lipschitz constant of D (classic solvers), rounded to float as the LibTorch module does
    // VQ: the codebook (K x n) and its squared norms
    std::vector<float> codebook_sq;

    void lista(const float* x, long M, float* z) const;
    void classic(const float* x, long M, float* z, bool fast) const;
    void vq_assign(const float* x, long M, float* z) const;
};

namespace {

float lipschitz(const std::vector<float>& D, int n, int K) {
    // largest eigenvalue of D D^T (n x n) in float64, rounded to float32 (model/networks.cpp)
    std::vector<double> G(size_t(n) * n, 0.0);
    for (int i = 0; i < n; ++i)
        for (int j = 0; j <= i; ++j) {
            double s = 0;
            for (int k = 0; k < K; ++k) s += double(D[size_t(i) * K + k]) * D[size_t(j) * K + k];
            G[size_t(i) * n + j] = G[size_t(j) * n + i] = s;
        }
    std::vector<double> w(n);
    int lwork = -1, info = 0;
    double q = 0;
    dsyev_("N", "L", &n, G.data(), &n, w.data(), &q, &lwork, &info);
    lwork = std::max(1, static_cast<int>(q));
    std::vector<double> work(lwork);
    dsyev_("N", "L", &n, G.data(), &n, w.data(), work.data(), &lwork, &info);
    if (info != 0) throw Error("the dictionary's largest eigenvalue did not converge (dsyev info " +
                               std::to_string(info) + ")");
    return static_cast<float>(w[n - 1]);
}

}  // namespace

Network::Network(const ModelConfig& cfg, const TensorSource& get) : impl_(std::make_unique<Impl>()) {
    cfg.validate();
    Impl& m = *impl_;
    m.cfg = cfg;
    const Reader r{get};
    const int ch = cfg.channels, levels = static_cast<int>(cfg.ch_mult.size()), G = cfg.groups;

    Body& e = m.encoder;
    e.prefix = "encoder.body.";
    e.mods.push_back(std::make_unique<ConvModule>(r.conv(e.next(), cfg.in_channels, ch, 3)));
    int block_in = ch;
    for (int i = 0; i < levels; ++i) {
        const int block_out = ch * cfg.ch_mult[i];
        for (int b = 0; b < cfg.num_res_blocks; ++b) {
            e.mods.push_back(std::make_unique<ResnetBlock>(r, e.next(), block_in, block_out, G));
            block_in = block_out;
            if (has_level(cfg.attn_levels, i)) e.mods.push_back(std::make_unique<AttnBlock>(r, e.next(), block_in, G));
        }
        if (i != levels - 1) e.mods.push_back(std::make_unique<ConvModule>(downsample_conv(r, e.next(), block_in)));
    }
    e.mods.push_back(std::make_unique<ResnetBlock>(r, e.next(), block_in, block_in, G));
    if (cfg.mid_attention) e.mods.push_back(std::make_unique<AttnBlock>(r, e.next(), block_in, G));
    e.mods.push_back(std::make_unique<ResnetBlock>(r, e.next(), block_in, block_in, G));
    e.mods.push_back(std::make_unique<NormSwishModule>(Norm(r, e.next(), G, block_in)));
    {
        std::string name = e.prefix + std::to_string(e.mods.size() + 1) + ".";  // the Swish takes index N
        e.mods.push_back(std::make_unique<ConvModule>(r.conv(name, block_in, cfg.n, 3)));
    }

    Body& d = m.decoder;
    d.prefix = "decoder.body.";
    block_in = ch * cfg.ch_mult[levels - 1];
    d.mods.push_back(std::make_unique<ConvModule>(r.conv(d.next(), cfg.n, block_in, 3)));
    d.mods.push_back(std::make_unique<ResnetBlock>(r, d.next(), block_in, block_in, G));
    if (cfg.mid_attention) d.mods.push_back(std::make_unique<AttnBlock>(r, d.next(), block_in, G));
    d.mods.push_back(std::make_unique<ResnetBlock>(r, d.next(), block_in, block_in, G));
    for (int i = levels - 1; i >= 0; --i) {
        const int block_out = ch * cfg.ch_mult[i];
        for (int b = 0; b < cfg.num_res_blocks + 1; ++b) {
            d.mods.push_back(std::make_unique<ResnetBlock>(r, d.next(), block_in, block_out, G));
            block_in = block_out;
            if (has_level(cfg.attn_levels, i)) d.mods.push_back(std::make_unique<AttnBlock>(r, d.next(), block_in, G));
        }
        if (i != 0) d.mods.push_back(std::make_unique<Upsample>(r, d.next(), block_in));
    }
    d.mods.push_back(std::make_unique<NormSwishModule>(Norm(r, d.next(), G, block_in)));
    {
        std::string name = d.prefix + std::to_string(d.mods.size() + 1) + ".";  // the Swish takes index N
        d.mods.push_back(std::make_unique<ConvModule>(r.conv(name, block_in, cfg.in_channels, 3)));
    }

    const int n = cfg.n, K = cfg.K;
    if (cfg.vq()) {
        m.atom_rows = r.take("vq.codebook", size_t(K) * n);
        m.codebook_sq.resize(K);
        for (int k = 0; k < K; ++k) {
            float s = 0.f;
            for (int i = 0; i < n; ++i) s += m.atom_rows[size_t(k) * n + i] * m.atom_rows[size_t(k) * n + i];
            m.codebook_sq[k] = s;
        }
    } else {
        m.D = r.take("lista.D", size_t(n) * K);
        m.We = r.take("lista.W_e", size_t(K) * n);
        m.S = r.take("lista.S", size_t(K) * K);
        m.theta = r.take("lista.theta", size_t(K));
        m.St.resize(size_t(K) * K);
        for (int i = 0; i < K; ++i)
            for (int j = 0; j < K; ++j) m.St[size_t(j) * K + i] = m.S[size_t(i) * K + j];
        m.atom_rows.resize(size_t(K) * n);
        for (int i = 0; i < n; ++i)
            for (int k = 0; k < K; ++k) m.atom_rows[size_t(k) * n + i] = m.D[size_t(i) * K + k];
        m.solver = cfg.solver;
        m.steps = cfg.steps;
        if (m.solver != "lista") m.L = lipschitz(m.D, n, K);
    }
}

Network::~Network() = default;

const ModelConfig& Network::config() const { return impl_->cfg; }
const std::vector<float>& Network::atom_rows() const { return impl_->atom_rows; }

void Network::set_solver(const std::string& solver, int steps) {
    Impl& m = *impl_;
    if (solver != "lista" && solver != "ista" && solver != "fista")
        throw Error("unknown solver '" + solver + "' (lista, ista or fista)");
    if (m.cfg.vq()) throw Error("a VQ model has no sparse solver (--solver applies to SC models)");
    m.solver = solver;
    m.steps = steps > 0 ? steps : m.cfg.steps;
    if (solver != "lista" && m.L == 0.f) m.L = lipschitz(m.D, m.cfg.n, m.cfg.K);
}

void Network::encode_latent(const float* x, int B, int H, int W, float* latent) const {
    const int f = impl_->cfg.factor();
    if (B < 1 || H < f || W < f || H % f || W % f) throw Error("encode: bad input size");
    Act a(B, H, W, 3);
    std::memcpy(a.data(), x, sizeof(float) * a.buf.size());
    Act out = impl_->encoder.forward(std::move(a));
    std::memcpy(latent, out.data(), sizeof(float) * out.buf.size());
}

void Network::encode(const float* x, int B, int H, int W, float* codes) const {
    const Impl& m = *impl_;
    const int f = m.cfg.factor();
    if (B < 1 || H < f || W < f || H % f || W % f) throw Error("encode: bad input size");
    Act a(B, H, W, 3);
    std::memcpy(a.data(), x, sizeof(float) * a.buf.size());
    Act lat = m.encoder.forward(std::move(a));
    const long M = long(B) * lat.H * lat.W;
    if (m.cfg.vq())
        m.vq_assign(lat.data(), M, codes);
    else if (m.solver == "lista")
        m.lista(lat.data(), M, codes);
    else
        m.classic(lat.data(), M, codes, m.solver == "fista");
}

void Network::decode_latent(const float* latent, int B, int h, int w, float* image) const {
    if (B < 1 || h < 1 || w < 1) throw Error("decode: bad latent size");
    Act a(B, h, w, impl_->cfg.n);
    std::memcpy(a.data(), latent, sizeof(float) * a.buf.size());
    Act out = impl_->decoder.forward(std::move(a));
    std::memcpy(image, out.data(), sizeof(float) * out.buf.size());
}

void Network::Impl::lista(const float* x, long M, float* z) const {
    const int n = cfg.n, K = cfg.K;
    Buf b(size_t(M) * K), v(size_t(M) * K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), K, n, 1.f, x, n, We.data(), n, 0.f, b.data(), K);
    soft_threshold_rows(b.data(), z, M, K, theta.data());
    for (int t = 1; t < steps; ++t) {
        long nnz = 0;
        for (long i = 0, e = M * K; i < e; ++i) nnz += z[i] != 0.f;
        std::memcpy(v.data(), b.data(), sizeof(float) * size_t(M) * K);
        if (nnz * 16 < M * K) {
            // few non-zeros (a trained model's codes): S z as a sparse product, nnz x K work
            for_blocks(M, 16, [&](long r0, long m) { sparse_rows(z + r0 * K, St.data(), v.data() + r0 * K, m, K); });
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), K, K, 1.f, z, K, S.data(), K, 1.f, v.data(), K);
        }
        soft_threshold_rows(v.data(), z, M, K, theta.data());
    }
}

void Network::Impl::classic(const float* x, long M, float* z, bool fast) const {
    // ISTA / FISTA over the fixed D with the model's alpha (model/networks.cpp, ista_with / fista_with)
    const int n = cfg.n, K = cfg.K;
    const std::vector<float> th(K, static_cast<float>(cfg.alpha / L));
    std::vector<float> Gm(size_t(K) * K);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, K, n, 1.f, D.data(), K, D.data(), K, 0.f, Gm.data(), K);
    Buf xD(size_t(M) * K), grad(size_t(M) * K), y(size_t(M) * K), zn(size_t(M) * K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), K, n, 1.f, x, n, D.data(), K, 0.f, xD.data(), K);
    const size_t N = size_t(M) * K;
    std::fill(z, z + N, 0.f);
    std::memcpy(y.data(), z, sizeof(float) * N);
    double tk = 1.0;
    for (int t = 0; t < steps; ++t) {
        const float* src = fast ? y.data() : z;
        std::memcpy(grad.data(), xD.data(), sizeof(float) * N);  // grad = src G - xD
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), K, K, 1.f, src, K, Gm.data(), K, -1.f,
                    grad.data(), K);
        for (size_t i = 0; i < N; ++i) grad.data()[i] = src[i] - grad.data()[i] / L;
        soft_threshold_rows(grad.data(), zn.data(), M, K, th.data());
        if (fast) {
            const double tn = (1.0 + std::sqrt(1.0 + 4.0 * tk * tk)) / 2.0;
            const float mom = static_cast<float>((tk - 1.0) / tn);
            for (size_t i = 0; i < N; ++i) y.data()[i] = zn.data()[i] + mom * (zn.data()[i] - z[i]);
            tk = tn;
        }
        std::memcpy(z, zn.data(), sizeof(float) * N);
    }
}

void Network::Impl::vq_assign(const float* x, long M, float* z) const {
    // nearest codebook entry by ||e||^2 - 2 x.e (lowest index on ties), one-hot
    const int n = cfg.n, K = cfg.K;
    Buf xe(size_t(M) * K);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), K, n, 1.f, x, n, atom_rows.data(), n, 0.f, xe.data(),
                K);
    for (long r = 0; r < M; ++r) {
        const float* row = xe.data() + r * K;
        int best = 0;
        float bd = codebook_sq[0] - 2.f * row[0];
        for (int k = 1; k < K; ++k) {
            const float dk = codebook_sq[k] - 2.f * row[k];
            if (dk < bd) bd = dk, best = k;
        }
        float* zr = z + r * K;
        std::fill(zr, zr + K, 0.f);
        zr[best] = 1.f;
    }
}

}  // namespace scvae::infer
