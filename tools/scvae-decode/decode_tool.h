// decode_tool.h - scvae-decode as a function of its options (tools/scvae-decode/main.cpp parses them).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace scvae {

struct DecodeOptions {
    std::vector<std::string> inputs;  // code streams, "-" = stdin (default)
    std::optional<std::string> model;   // none: default_model_path()
    std::optional<std::string> output;  // pattern ({stem}, {name}, {index}, {index:N}, {n}, %d) or "-" (required)
    std::optional<std::string> format;  // with "-": png (default), jpeg, pnm or pam
    bool force = false;
    int batch = 1;
    std::optional<int> threads;         // none: every CPU the process may use
    std::string device = "cpu";
    int quality = 95;                 // JPEG quality
    std::optional<int> montage_cols;    // tile every decoded record into one picture of this many columns
    bool labels = false;              // label montage tiles with their source names
    int montage_gap = 2;
    std::vector<std::string> title;   // header lines above the montage
    bool quiet = false;
};

int decode_main(const DecodeOptions& opt);

}  // namespace scvae
