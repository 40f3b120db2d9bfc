// scvae/model_tool.h - the program scvae-model (init, info) as library functions.
#pragma once

#include <string>
#include <vector>

namespace scvae {

struct ModelInitOptions {
    std::string preset;       // one of ModelConfig::preset_names(), or
    std::string config_file;  // a JSON file with a ModelConfig object ("-" = stdin)
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

}  // namespace scvae
