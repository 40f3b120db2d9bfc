// networks.h - internal: the LibTorch modules of SC-VAE. Only files that build, train or run the
// networks include this (each costs ~30 s to compile on 2 cores).
#pragma once

#include <torch/torch.h>

#include <string>

#include "infer/engine.h"
#include "scvae/model.h"

namespace scvae {

// The fixed 2-D overcomplete DCT dictionary of the paper (Figure 11): n x K, unit-norm columns.
// n must be a perfect square m*m; p = ceil(sqrt(K)); 1-D m x p matrix with column k = cos(pi*k*t/p),
// t = 0..m-1, mean removed for k > 0, unit norm; Kronecker product with itself (n x p^2), columns
// renormalised, rows reordered column-major -> row-major; the first K columns.
torch::Tensor dct_dictionary(int n, int K);  // float32, CPU

// Largest eigenvalue of D^T D (power iteration / eigvalsh in float64).
double lipschitz_constant(const torch::Tensor& D);  // largest eigenvalue of D^T D, rounded to float32

// Soft threshold h_theta(v) = sign(v) * max(|v| - theta, 0), theta broadcast over the last dim.
torch::Tensor soft_threshold(const torch::Tensor& v, const torch::Tensor& theta);

// Classic solvers of Eq. (1), min_z 1/2 ||x - D z||^2 + alpha ||z||_1, for rows of x (B x n) -> B x K.
torch::Tensor ista(const torch::Tensor& x, const torch::Tensor& D, double alpha, int iters);
torch::Tensor fista(const torch::Tensor& x, const torch::Tensor& D, double alpha, int iters);
// Eq. (1) per row: 1/2 ||x - D z||^2 + alpha ||z||_1  (B).
torch::Tensor sparse_objective(const torch::Tensor& x, const torch::Tensor& D, const torch::Tensor& z,
                               double alpha);

// Learned ISTA (Gregor & LeCun): W_e (K x n), S (K x K), theta (K) learnable, initialised to D^T/L,
// I - D^T D / L, alpha/L. z0 = h(W_e x); z(t+1) = h(W_e x + S z(t)); `steps` steps in all.
// D is a buffer (fixed). With solver "ista"/"fista" forward() runs the classic solver with the fixed D instead.
struct LISTAImpl : torch::nn::Module {
    LISTAImpl(int n, int K, int steps, double alpha, std::string solver = "lista");
    torch::Tensor forward(const torch::Tensor& x);  // x: B x n -> z: B x K
    torch::Tensor D, W_e, S, theta;
    int n, K, steps;
    double alpha, L;
    std::string solver;
};
TORCH_MODULE(LISTA);

// The VQ-VAE latent of van den Oord et al. (2017), the paper's discrete baseline: a codebook of K entries of
// size n; each latent vector is replaced by its nearest entry (squared distance, lowest index on ties). The
// code of a vector is the one-hot vector of its entry, so that codebook^T z is the quantised latent, exactly
// as D z is for sparse codes. Initialised U(-1/K, 1/K) (init_random_weights). With ema_decay > 0 the codebook
// is a buffer moved by exponential moving averages of the assigned vectors (Appendix A.1 of the VQ-VAE paper,
// with Laplace smoothing of the counts) instead of by the codebook loss.
struct VQImpl : torch::nn::Module {
    VQImpl(int n, int K, double ema_decay);
    torch::Tensor assign(const torch::Tensor& x);  // x: B x n -> one-hot B x K (no gradient)
    // EMA step from one batch's statistics: count (K, vectors per entry) and sum (K x n, their sum).
    void ema_update(const torch::Tensor& count, const torch::Tensor& sum);
    torch::Tensor codebook;             // K x n
    torch::Tensor ema_count, ema_sum;   // EMA only
    torch::Tensor batch_count, batch_sum;  // EMA only: the statistics of the last forward in training mode
    int n, K;
    double ema_decay;
};
TORCH_MODULE(VQ);

// The GroupNorm groups of a layer with `channels` channels when the config asks for `wanted`: the largest divisor
// of `channels` not above `wanted` (at least 1).
int norm_groups(int wanted, int channels);

// VQGAN-style encoder/decoder of Table 4 (ResnetBlock with GroupNorm+Swish, Downsample = stride-2 conv with
// asymmetric pad, Upsample = nearest x2 + conv, AttnBlock = single-head non-local block).
struct EncoderImpl : torch::nn::Module {
    explicit EncoderImpl(const ModelConfig& cfg);
    torch::Tensor forward(torch::Tensor x);  // B x 3 x H x W (values in [-1,1]) -> B x n x h x w
    torch::nn::Sequential body{nullptr};
    // What each entry of body is, in order ("conv_in", "res 0.1" for level 0's second residual block, "attn 0.1",
    // "down 0", "mid1", "mid_attn", "mid2", "norm_out", "swish", "conv_out"): the same name means the same place in
    // the network whatever num_res_blocks is (Codec::grow).
    std::vector<std::string> layers;
};
TORCH_MODULE(Encoder);

struct DecoderImpl : torch::nn::Module {
    explicit DecoderImpl(const ModelConfig& cfg);
    torch::Tensor forward(torch::Tensor z);  // B x n x h x w -> B x 3 x H x W (values ~[-1,1])
    torch::nn::Sequential body{nullptr};
    std::vector<std::string> layers;  // as EncoderImpl::layers ("up L" for the upsampling after level L)
};
TORCH_MODULE(Decoder);

// Everything one forward pass produces (for the loss of Eq. (5) and for logging).
struct SCVAEOutput {
    torch::Tensor x_hat;   // B x 3 x H x W, reconstruction G(E~(x))
    torch::Tensor latent;  // B x n x h x w, E(x)
    torch::Tensor code;    // B x h x w x K, sparse codes Z
    torch::Tensor latent_hat;  // B x n x h x w, D z (vq: E + sg[e - E], the straight-through estimator)
    torch::Tensor quantised;   // vq only: B x n x h x w, the codebook entries e (gradient to the codebook)
    double vq_beta = 0;        // vq only: the commitment weight
    bool vq_ema = false;       // vq only: the codebook moves by EMA (no codebook loss)
};

struct SCVAEImpl : torch::nn::Module {
    explicit SCVAEImpl(const ModelConfig& cfg);
    SCVAEOutput forward(const torch::Tensor& x);         // x in [-1,1]
    torch::Tensor encode_codes(const torch::Tensor& x);   // -> B x h x w x K
    torch::Tensor decode_codes(const torch::Tensor& z);   // B x h x w x K -> B x 3 x H x W in [-1,1]
    torch::Tensor atoms();  // n x K: the dictionary D (sc) or the codebook's transpose (vq)
    ModelConfig cfg;
    Encoder encoder{nullptr};
    LISTA lista{nullptr};  // sc
    VQ vq{nullptr};        // vq
    Decoder decoder{nullptr};
};
TORCH_MODULE(SCVAE);

// Loss of Eq. (5): L_rec + (1/hw) L_latent, with L_rec = sum of squared errors per image and
// L_latent = sum_ij ||E_ij - D z_ij||^2 + alpha ||z_ij||_1, both averaged over the batch.
// For a VQ model L_latent = sum_ij ||sg[E_ij] - e_ij||^2 + beta ||E_ij - sg[e_ij]||^2 (the first term only
// without EMA), l1 is then 1 per position (one non-zero of value 1) and latent_mse is ||E - e||^2 per entry.
// Images are compared on the [0,1] scale (x in [-1,1] is mapped back) so numbers read as per-image SSE.
struct SCVAELoss {
    torch::Tensor total, rec, latent, latent_mse, l1;
};
SCVAELoss scvae_loss(const SCVAEOutput& out, const torch::Tensor& x, double alpha);

// Model file I/O for the torch side. The file layout is described at the top of model/codec.cpp.
struct Codec::Impl {
    ModelConfig cfg;
    std::string fingerprint;
    nlohmann::json meta;
    SCVAE net{nullptr};
    torch::Device device{torch::kCPU};
};

// Fingerprint: 16 hex digits of a 64-bit FNV-1a hash over the canonical config JSON and every parameter's
// and buffer's name, shape and float32 bytes (in a fixed order).
std::string compute_fingerprint(const ModelConfig& cfg, SCVAE& net);
void save_model_file(const std::string& path, const ModelConfig& cfg, SCVAE& net, const nlohmann::json& meta);
// Same, storing the parameters as IEEE binary16 when `half` (the fingerprint is taken after that rounding).
void save_model_file(const std::string& path, const ModelConfig& cfg, SCVAE& net, const nlohmann::json& meta,
                     bool half);
// Loads into a new network on `device`; throws Error("<path>: <reason>").
std::unique_ptr<Codec::Impl> load_model_file(const std::string& path, torch::Device device);

// The parameters and buffers of `net` by LibTorch name, as float32 copies: the weights of a torch-free
// infer::Network that computes what `net` computes (tests and benchmarks compare the two).
infer::TensorSource tensor_source(SCVAE& net);

// Image <-> tensor helpers (RGB float [0,1] <-> 1 x 3 x H x W in [-1,1]).
torch::Tensor image_to_tensor(const Image& rgb);
Image tensor_to_image(const torch::Tensor& t);  // 3 x H x W or 1 x 3 x H x W in [-1,1]

}  // namespace scvae
