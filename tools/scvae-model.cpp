// scvae-model - make an untrained model file (init), describe model files (info), export one to TorchScript.
#include <cstring>
#include <iostream>

#include "scvae/cli.h"
#include "scvae/error.h"
#include "scvae/model.h"
#include "scvae/model_tool.h"

static const char* kUsage =
    "Usage: scvae-model init (--preset NAME | --config FILE.json) [--latent sc|vq] [--vq-ema D] [--seed N] [--half] -o FILE\n"
    "       scvae-model info [--json] [FILE...]\n"
    "       scvae-model export [MODEL] -o FILE.pt\n";

static int init_cmd(int argc, char** argv) {
    cxxopts::Options o("scvae-model init", "Write a freshly initialised (untrained) SC-VAE model file.\n");
    o.add_options()
        ("p,preset", "architecture preset: paper-f8, paper-f16, paper-f64, paper-f256, cpu-f8, tiny", cxxopts::value<std::string>())
        ("c,config", "architecture from a JSON file (a ModelConfig object; '-' = stdin)", cxxopts::value<std::string>())
        ("latent", "sc (sparse codes) or vq (the VQ-VAE baseline); default: as the preset or config says", cxxopts::value<std::string>())
        ("vq-ema", "vq: the codebook moves by moving averages with this decay (e.g. 0.99)", cxxopts::value<std::string>())
        ("s,seed", "random seed of the initial weights", cxxopts::value<std::string>()->default_value("1"))
        ("half", "store the weights as 16-bit floats")
        ("o,output", "model file to write ('-' = stdout)", cxxopts::value<std::string>())
        ("h,help", "show this help")
        ("version", "show the version");
    auto r = scvae::parse_or_usage(o, argc, argv);
    if (r.unmatched().size()) throw scvae::UsageError("init: unexpected argument '" + r.unmatched()[0] + "'");
    scvae::ModelInitOptions opt;
    if (r.count("preset") == r.count("config")) throw scvae::UsageError("init: give exactly one of --preset and --config");
    if (!r.count("output")) throw scvae::UsageError("init: -o FILE is required");
    if (r.count("preset")) opt.preset = r["preset"].as<std::string>();
    if (r.count("config")) opt.config_file = r["config"].as<std::string>();
    if (r.count("latent")) {
        opt.latent = r["latent"].as<std::string>();
        if (opt.latent != "sc" && opt.latent != "vq") throw scvae::UsageError("--latent: expected sc or vq, got '" + opt.latent + "'");
    }
    if (r.count("vq-ema")) {
        opt.vq_ema = scvae::parse_double_option("--vq-ema", r["vq-ema"].as<std::string>());
        if (!(opt.vq_ema >= 0 && opt.vq_ema < 1)) throw scvae::UsageError("--vq-ema: expected a decay in [0, 1) (0: no EMA)");
    }
    opt.seed = static_cast<uint64_t>(scvae::parse_int_option("--seed", r["seed"].as<std::string>(), 0, 2147483647));
    opt.output = r["output"].as<std::string>();
    opt.half = r.count("half") > 0;
    return scvae::model_init_main(opt);
}

static int info_cmd(int argc, char** argv) {
    cxxopts::Options o("scvae-model info", "Print a model file's config, fingerprint, parameter count and meta.\n");
    o.add_options()
        ("j,json", "one JSON object per file and line")
        ("h,help", "show this help")
        ("version", "show the version")
        ("files", "model files", cxxopts::value<std::vector<std::string>>());
    o.parse_positional({"files"});
    o.positional_help("[FILE...]");
    auto r = scvae::parse_or_usage(o, argc, argv);
    scvae::ModelInfoOptions opt;
    // No file: the model the other tools would use ($SCVAE_MODEL, else the bundled one).
    opt.files = r.count("files") ? r["files"].as<std::vector<std::string>>()
                                 : std::vector<std::string>{scvae::default_model_path()};
    opt.json = r.count("json") > 0;
    return scvae::model_info_main(opt);
}

static int export_cmd(int argc, char** argv) {
    cxxopts::Options o("scvae-model export",
                       "Write a model as a TorchScript module (encode, decode, forward) for PyTorch users, by running\n"
                       "python/scvae_torch.py with $SCVAE_PYTHON (default python3), which needs PyTorch.\n");
    o.add_options()
        ("o,output", "TorchScript file to write ('-' = stdout)", cxxopts::value<std::string>())
        ("h,help", "show this help")
        ("version", "show the version")
        ("model", "model file", cxxopts::value<std::vector<std::string>>());
    o.parse_positional({"model"});
    o.positional_help("[MODEL]");
    auto r = scvae::parse_or_usage(o, argc, argv);
    scvae::ModelExportOptions opt;
    if (r.count("model")) {
        auto m = r["model"].as<std::vector<std::string>>();
        if (m.size() > 1) throw scvae::UsageError("export: one model file at a time");
        opt.model = m[0];
    }
    if (!r.count("output")) throw scvae::UsageError("export: -o FILE is required");
    opt.output = r["output"].as<std::string>();
    return scvae::model_export_main(opt);
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-model", argc, argv, [](int c, char** v) {
        std::string cmd = c > 1 ? v[1] : "";
        if (cmd == "init") return init_cmd(c - 1, v + 1);
        if (cmd == "info") return info_cmd(c - 1, v + 1);
        if (cmd == "export") return export_cmd(c - 1, v + 1);
        if (cmd == "-h" || cmd == "--help") return std::cout << kUsage, 0;
        if (cmd == "--version") return std::cout << "scvae-model " << scvae::version_string() << "\n", 0;
        if (cmd.empty()) throw scvae::UsageError("no command given (init, info or export)");
        throw scvae::UsageError("unknown command '" + cmd + "' (init, info or export)");
    });
}
