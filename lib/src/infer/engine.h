// engine.h - internal: the inference pass of SC-VAE on the CPU without LibTorch.
//
// The same function as the LibTorch modules of model/networks.cpp in inference mode (encoder, Learned ISTA or
// the classic solvers, the VQ assignment, D z, decoder), computed on NHWC float32 buffers: convolutions by
// oneDNN (the library and kernels LibTorch's own CPU convolutions use), the 1x1 projections, the attention
// and the solvers by BLAS, GroupNorm, Swish and the soft threshold by hand. Results agree with the LibTorch
// path to float rounding (tests/unit/test_engine.cpp checks both presets, VQ and the solvers).
//
// Why it exists: LibTorch costs a process about 0.6 s and 165 MB before the first image (operator registration
// and the relocation of ~290 shared libraries), which dominated scvae-encode and scvae-decode as users run
// them. The tools built on this engine (model/codec_light.cpp) start in a few milliseconds.
//
// A Network is immutable after construction apart from set_solver(); encode() and decode() may run on several
// threads at once (the primitive cache is locked, every buffer belongs to the call).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "scvae/model.h"

namespace scvae::infer {

// The float32 values of the tensor `name` (row-major, the shape LibTorch gives it); throws if it is missing.
using TensorSource = std::function<std::vector<float>(const std::string& name)>;

class Network {
public:
    Network(const ModelConfig& cfg, const TensorSource& get);
    ~Network();
    Network(const Network&) = delete;
    Network& operator=(const Network&) = delete;

    const ModelConfig& config() const;

    // x: B x H x W x 3 (NHWC) with values in [-1, 1]; H and W multiples of 2^d.
    // codes: B x (H/2^d) x (W/2^d) x K, dense (the caller makes it sparse).
    void encode(const float* x, int B, int H, int W, float* codes) const;
    // The encoder alone: latent B x h x w x n.
    void encode_latent(const float* x, int B, int H, int W, float* latent) const;
    // latent: B x h x w x n (D z per position) -> image B x (h 2^d) x (w 2^d) x 3, values about [-1, 1].
    void decode_latent(const float* latent, int B, int h, int w, float* image) const;
    // The atoms as rows, K x n (D^T for a sparse-coding model, the codebook for VQ): latent = sum_k z_k row_k.
    const std::vector<float>& atom_rows() const;

    // "lista" (steps <= 0: the model's own), "ista" or "fista" with `steps` iterations (see Codec::set_solver).
    void set_solver(const std::string& solver, int steps);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Exposed for the unit tests: the pieces the engine computes by hand.
namespace detail {
// exp(x) for float, vectorisable (Cephes' polynomial, relative error below 2e-7 over [-87, 88]).
float fast_exp(float x);
// GroupNorm over B x P x C (NHWC, P pixels) with G groups, eps, per-channel affine; then Swish if `swish`.
// y may equal x.
void group_norm(const float* x, float* y, int B, long P, int C, int G, const float* gamma, const float* beta,
                float eps, bool swish);
}  // namespace detail

}  // namespace scvae::infer
