// scvae/model.h - the SC-VAE model as the tools see it, without LibTorch headers.
//
// ModelConfig is the whole architecture (readable JSON inside every model file). Codec loads a model file
// and turns images into code records and back. The LibTorch modules live in lib/src/model/ (networks.h);
// only files that train or run the networks include them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scvae/codes.h"
#include "scvae/image.h"

namespace scvae {

struct ModelConfig {
    std::string preset;              // name of the preset it came from ("" for a custom config)
    int in_channels = 3;             // image channels C (always 3: RGB)
    int channels = 128;              // C': channels after the first convolution
    std::vector<int> ch_mult{1, 1, 2, 2, 4};  // channel multiplier per level; d = ch_mult.size() - 1
    int num_res_blocks = 1;          // residual blocks per level (the "Residual Block" of Table 4's d x {...})
    bool mid_attention = true;       // non-local block in the middle (Table 4)
    std::vector<int> attn_levels;    // extra non-local blocks after the residual blocks of these levels
    int groups = 32;                 // GroupNorm groups (clamped to divide the channel count)
    int n = 256;                     // latent dimension (must be a perfect square for the 2-D DCT)
    int K = 512;                     // atoms
    int steps = 16;                  // s: LISTA unrolled steps (also ISTA/FISTA iterations)
    std::string solver = "lista";    // lista | ista | fista
    float alpha = 1.0f;              // sparsity weight of Eq. (1)/(4); thresholds start at alpha/L
    // The latent: "sc" (sparse codes over the DCT dictionary by LISTA, the paper's method) or "vq" (the
    // VQ-VAE baseline of van den Oord et al. 2017: a learned codebook of K entries of size n, nearest-entry
    // assignment, straight-through gradient). A VQ code is a sparse code with one non-zero of value 1, so
    // both kinds travel in the same code streams. steps/solver/alpha do not apply to "vq".
    std::string latent = "sc";
    float beta = 0.25f;              // vq: weight of the commitment loss ||E - sg[e]||^2
    float ema_decay = 0.0f;          // vq: 0 = codebook learned by the codebook loss; in (0,1): EMA updates

    bool vq() const { return latent == "vq"; }

    int d() const { return static_cast<int>(ch_mult.size()) - 1; }
    int factor() const { return 1 << d(); }
    nlohmann::json to_json() const;
    static ModelConfig from_json(const nlohmann::json& j);  // throws Error on bad fields
    void validate() const;                                   // throws Error on impossible values
    // Presets: paper-f8, paper-f16, paper-f64, paper-f256, cpu-f8 (default model), tiny (tests).
    static ModelConfig preset_config(const std::string& name);  // throws InvalidArgument for an unknown name
    static std::vector<std::string> preset_names();
};

// One tensor of the network a config describes, as a model file lists it.
struct TensorShape {
    std::string name;            // LibTorch's dotted name, e.g. "encoder.body.0.weight"
    std::vector<int64_t> shape;
    bool buffer = false;         // a buffer (lista.D) rather than a parameter
};
// The tensors of the network `cfg` describes, in the order of named_parameters() then named_buffers(),
// worked out from the config alone (nothing is allocated): a model file's header is checked against it
// before a network is built. tests/unit/test_model.cpp checks it against the real network.
std::vector<TensorShape> expected_tensors(const ModelConfig& cfg);

enum class Device { CPU, CUDA };
Device parse_device(const std::string& s);  // "cpu" | "cuda"; throws InvalidArgument

// Sets LibTorch's intra-op threads (and OpenMP/OpenBLAS); n <= 0 means available_cpus(). It also stops OpenBLAS's
// idle worker threads (which otherwise spin for 0.1 s after start-up; the next multi-threaded BLAS call starts
// them again), so call it while no other thread of the program is inside BLAS, e.g. first thing in main().
void set_threads(int n);

// Makes the calling thread run LibTorch operations on itself alone (one intra-op thread), for a thread that runs
// Codec calls beside other such threads (image-level parallelism; see WorkerPool in tools/common/worker_pool.h). Call it
// when the thread starts, before any other thread of the pool computes: LibTorch's per-thread set-up clears
// shared caches. After set_threads(1) in the main thread.
void init_worker_thread();

// Summary read from a model file without building the networks.
struct ModelInfo {
    ModelConfig config;
    std::string fingerprint;
    nlohmann::json meta;  // free-form: training command, steps, validation metrics...
    uint64_t parameters = 0;
};
ModelInfo read_model_info(const std::string& path);

// Path of the bundled default model: $SCVAE_MODEL if set, else the installed/bundled models/default.scvm.
std::string default_model_path();

// Codec::widen: the largest share by which the two copies of a weight differ from an even split (1/2 +- d).
inline constexpr double kWidenShareSpread = 0.25;

class Codec {
public:
    // Loads a model file; throws Error("<path>: <reason>") for a missing, truncated, corrupt or foreign file.
    static Codec load(const std::string& path, Device device = Device::CPU);
    // A freshly initialised model (random encoder/decoder, LISTA from the DCT dictionary), seeded.
    static Codec init(const ModelConfig& cfg, uint64_t seed, Device device = Device::CPU);
    // A deeper model that computes what this one computes: `res_blocks` residual blocks per encoder level (the
    // decoder has one more) instead of config().num_res_blocks. Every weight of this model is copied to the same
    // place; each added block is initialised as Codec::init does (seeded) except its last convolution (and, at
    // an attention level, its attention block's output projection), which starts at zero, so the block starts as
    // the identity and training grows it. Reconstructions agree up to rounding. Meta: "created_by", "grown_from"
    // (this fingerprint), "grown_from_res_blocks", "init_seed", "grown_layers" (the parameter-name prefixes of the
    // added blocks, such as "encoder.body.2", for scvae-train --grown-lr) and "grown_from_meta" (this meta).
    // Throws Error when res_blocks is not more than the model's or the deeper config is refused.
    // LibTorch builds only (scvae-model, scvae-train).
    Codec grow(int res_blocks, uint64_t seed) const;
    // A wider model that computes what this one computes: twice the channels C' (every layer between the image and
    // the latent; n, K and LISTA stay). Each hidden channel is copied twice (GroupNorm's groups keep their
    // statistics: each group holds each of its channels twice); a layer reading a widened input gives the two
    // copies of each weight w the shares (1/2 + d) w and (1/2 - d) w, d ~ U(-kWidenShareSpread, kWidenShareSpread)
    // seeded, so the sum is w and the output unchanged while the copies differ and training can pull them apart
    // (Net2WiderNet). Attention's q is scaled by 1/sqrt(2) (the scores are divided by sqrt(C)). Reconstructions
    // agree up to rounding; a pass costs 2-2.5 times as much (cpu-f8 at 256x256). Meta as grow's, with
    // "grown_from_channels" and "share_spread" instead of "grown_from_res_blocks"; "grown_layers" is this model's
    // (a deeper-then-wider model keeps its added blocks' names for --grown-lr). Throws Error when a layer's
    // GroupNorm group count would change with its width other than by staying or doubling. The shares are drawn
    // with std::mt19937_64 in double arithmetic: a seed gives the same file on every CPU. LibTorch builds only.
    Codec widen(uint64_t seed) const;
    Codec(Codec&&) noexcept;
    Codec& operator=(Codec&&) noexcept;
    ~Codec();

    const ModelConfig& config() const;
    const std::string& fingerprint() const;
    const nlohmann::json& meta() const;

    // Encodes images (any size, any channel count; converted to RGB, reflect-padded to a multiple of 2^d).
    // Images of the same padded size are batched together; records come back in input order, with
    // fingerprint, n, K, d, sizes, padding, grid and CSR filled, and source = names[i].
    std::vector<CodeRecord> encode(const std::vector<Image>& images, const std::vector<std::string>& names);
    // Decodes one record to an RGB image of the original size (padding removed). Throws Error if the record's
    // n/K/d do not fit this model; the fingerprint is the caller's check (see --force).
    Image decode(const CodeRecord& rec);
    std::vector<Image> decode(const std::vector<CodeRecord>& recs);

    // Inference with a classic solver of Eq. (1) instead of the trained LISTA network: "ista" or "fista" for
    // `steps` iterations over the fixed dictionary D with the model's alpha ("lista" and steps <= 0 restore the
    // model's own). The codes stay codes over D, so every model that decodes them decodes them alike. Throws
    // Error for a VQ model (no sparse solver) or an unknown solver name.
    void set_solver(const std::string& solver, int steps);

    // Saves the model file (weights, config, fingerprint, meta) atomically.
    void save(const std::string& path, const nlohmann::json& meta = {}) const;
    // Same, with the weights stored as IEEE binary16 when `half` (buffers stay f32). The file's fingerprint is
    // computed on the rounded weights, so it is what Codec::load of that file reports. A null `meta` keeps
    // this codec's own meta.
    void save(const std::string& path, const nlohmann::json& meta, bool half) const;

    struct Impl;
    Impl& impl() { return *impl_; }

private:
    explicit Codec(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace scvae
