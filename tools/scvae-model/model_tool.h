// model_tool.h - the commands of scvae-model (init, info, grow, export) as functions of their options.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace scvae {

struct ModelInitOptions {
    std::string preset;       // one of ModelConfig::preset_names(), or
    std::string config_file;  // a JSON file with a ModelConfig object ("-" = stdin)
    std::optional<std::string> latent;  // "sc" or "vq" (none: as the preset/config says)
    std::optional<double> vq_ema;       // vq: EMA decay of the codebook (none: as the preset/config says)
    uint64_t seed = 1;
    std::string output;       // model file to write ("-" = stdout)
    bool half = false;        // store the weights as 16-bit floats
};
int model_init_main(const ModelInitOptions& opt);

struct ModelInfoOptions {
    std::vector<std::string> files;
    bool json = false;  // one JSON object per file and line
};
int model_info_main(const ModelInfoOptions& opt);

struct ModelGrowOptions {
    std::optional<std::string> model;  // none: default_model_path()
    int res_blocks = 0;   // residual blocks per encoder level of the grown model (more than the model's; 0: keep)
    int channels = 0;     // C' of the grown model: twice the model's (0: keep)
    uint64_t seed = 1;    // initial weights of the added blocks
    std::string output;   // model file to write ("-" = stdout)
    bool half = false;    // store the weights as 16-bit floats
};
// Writes Codec::grow and/or Codec::widen of the model (deeper first): a larger model that starts as the same function.
int model_grow_main(const ModelGrowOptions& opt);

struct ModelExportOptions {
    std::optional<std::string> model;  // none: default_model_path()
    std::string output;  // TorchScript file to write ("-" = stdout)
};
// Checks the model file, then runs python/scvae_torch.py (found through $SCVAE_PYTHON_DIR, the source tree or
// <prefix>/share/scvae/python) with $SCVAE_PYTHON (default python3), which needs PyTorch.
int model_export_main(const ModelExportOptions& opt);

}  // namespace scvae
