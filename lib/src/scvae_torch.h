// scvae_torch.h - internal: the LibTorch modules of SC-VAE. Only files that build, train or run the
// networks include this (each costs ~30 s to compile on 2 cores).
#pragma once

#include <torch/torch.h>

#include <string>

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

// VQGAN-style encoder/decoder of Table 4 (ResnetBlock with GroupNorm+Swish, Downsample = stride-2 conv with
// asymmetric pad, Upsample = nearest x2 + conv, AttnBlock = single-head non-local block).
struct EncoderImpl : torch::nn::Module {
    explicit EncoderImpl(const ModelConfig& cfg);
    torch::Tensor forward(torch::Tensor x);  // B x 3 x H x W (values in [-1,1]) -> B x n x h x w
    torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(Encoder);

struct DecoderImpl : torch::nn::Module {
    explicit DecoderImpl(const ModelConfig& cfg);
    torch::Tensor forward(torch::Tensor z);  // B x n x h x w -> B x 3 x H x W (values ~[-1,1])
    torch::nn::Sequential body{nullptr};
};
TORCH_MODULE(Decoder);

// Everything one forward pass produces (for the loss of Eq. (5) and for logging).
struct SCVAEOutput {
    torch::Tensor x_hat;   // B x 3 x H x W, reconstruction G(E~(x))
    torch::Tensor latent;  // B x n x h x w, E(x)
    torch::Tensor code;    // B x h x w x K, sparse codes Z
    torch::Tensor latent_hat;  // B x n x h x w, D z
};

struct SCVAEImpl : torch::nn::Module {
    explicit SCVAEImpl(const ModelConfig& cfg);
    SCVAEOutput forward(const torch::Tensor& x);         // x in [-1,1]
    torch::Tensor encode_codes(const torch::Tensor& x);   // -> B x h x w x K
    torch::Tensor decode_codes(const torch::Tensor& z);   // B x h x w x K -> B x 3 x H x W in [-1,1]
    ModelConfig cfg;
    Encoder encoder{nullptr};
    LISTA lista{nullptr};
    Decoder decoder{nullptr};
};
TORCH_MODULE(SCVAE);

// Loss of Eq. (5): L_rec + (1/hw) L_latent, with L_rec = sum of squared errors per image and
// L_latent = sum_ij ||E_ij - D z_ij||^2 + alpha ||z_ij||_1, both averaged over the batch.
// Images are compared on the [0,1] scale (x in [-1,1] is mapped back) so numbers read as per-image SSE.
struct SCVAELoss {
    torch::Tensor total, rec, latent, latent_mse, l1;
};
SCVAELoss scvae_loss(const SCVAEOutput& out, const torch::Tensor& x, double alpha);

// Model file I/O for the torch side. The file layout is described at the top of torch_codec.cpp.
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

// Image <-> tensor helpers (RGB float [0,1] <-> 1 x 3 x H x W in [-1,1]).
torch::Tensor image_to_tensor(const Image& rgb);
Image tensor_to_image(const torch::Tensor& t);  // 3 x H x W or 1 x 3 x H x W in [-1,1]

}  // namespace scvae
