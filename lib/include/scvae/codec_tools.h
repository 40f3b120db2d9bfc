// scvae/codec_tools.h - the programs scvae-encode and scvae-decode as library functions.
#pragma once

#include <string>
#include <vector>

#include "scvae/io.h"

namespace scvae {

struct EncodeOptions {
    std::vector<std::string> inputs;  // image paths or folders (searched recursively), "-" = stdin
    std::string files_from;           // file with one path per line ("-" = stdin)
    std::string model;                // "" = default_model_path()
    std::string output = "-";
    bool json = false;
    bool half = false;
    int batch = 1;
    int threads = 0;                  // 0 = every CPU the process may use
    std::string device = "cpu";
    bool keep_going = false;
    Shard shard;
    bool quiet = false;
    std::string solver;               // "" = the model's LISTA; "ista"/"fista": Codec::set_solver
    int solver_steps = 0;             // iterations of --solver (0: the model's s)
};

// Returns the exit code (0, or 1 when --keep-going skipped bad files).
int encode_main(const EncodeOptions& opt);

struct DecodeOptions {
    std::vector<std::string> inputs;  // code streams, "-" = stdin (default)
    std::string model;                // "" = default_model_path()
    std::string output;               // pattern ({stem}, {name}, {index}, {index:N}, {n}, %d) or "-"
    std::string format;               // with "-": png (default), jpeg, pnm or pam
    bool force = false;
    int batch = 1;
    int threads = 0;
    std::string device = "cpu";
    int quality = 95;                 // JPEG quality
    int montage_cols = 0;             // > 0: tile every decoded record into one picture
    bool labels = false;              // label montage tiles with their source names
    int montage_gap = 2;
    std::vector<std::string> title;   // header lines above the montage
    bool quiet = false;
};

int decode_main(const DecodeOptions& opt);

}  // namespace scvae
