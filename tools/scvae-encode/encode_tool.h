// encode_tool.h - scvae-encode as a function of its options (tools/scvae-encode/main.cpp parses them).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cli.h"

namespace scvae {

struct EncodeOptions {
    std::vector<std::string> inputs;  // image paths or folders (searched recursively), "-" = stdin
    std::string files_from;           // file with one path per line ("-" = stdin)
    std::optional<std::string> model;  // none: default_model_path()
    std::string output = "-";
    bool json = false;
    bool half = false;
    int batch = 1;
    std::optional<int> threads;       // none: every CPU the process may use
    std::string device = "cpu";
    bool keep_going = false;
    Shard shard;
    bool quiet = false;
    std::string solver = "lista";     // the model's LISTA; "ista"/"fista": Codec::set_solver
    std::optional<int> solver_steps;  // iterations of --solver (none: the model's s)
};

// Returns the exit code (0, or 1 when --keep-going skipped bad files).
int encode_main(const EncodeOptions& opt);

}  // namespace scvae
