// scvae-model - make an untrained model file (init), describe model files (info), make a deeper model that starts
// as the same function (grow), export one to TorchScript.
#include <cmath>
#include <cstring>
#include <iostream>

#include "options.h"
#include "scvae/error.h"
#include "scvae/model.h"
#include "scvae-model/model_tool.h"

static const char* kUsage =
    "Usage: scvae-model init (--preset NAME | --config FILE.json) [--latent sc|vq] [--vq-ema D] [--seed N] [--half] -o FILE\n"
    "       scvae-model info [--json] [FILE...]\n"
    "       scvae-model grow [--res-blocks N] [--channels N] [--seed N] [--half] [MODEL] -o FILE\n"
    "       scvae-model export [MODEL] -o FILE.pt\n";

static int init_cmd(int argc, char** argv) {
    scvae::ModelInitOptions opt;
    std::optional<std::string> preset, config, output;
    std::string latent_value;  // empty: as the preset or config says
    scvae::OptionTable t("scvae-model init", "Write a freshly initialised (untrained) SC-VAE model file.\n");
    t.text("p,preset", "NAME", "architecture preset: paper-f8, paper-f16, paper-f64, paper-f256, cpu-f8, tiny", preset);
    t.text("c,config", "FILE", "architecture from a JSON file (a ModelConfig object; '-' = stdin)", config);
    t.choice("latent", "sc|vq", "sc (sparse codes) or vq (the VQ-VAE baseline); default: as the preset or config says",
             latent_value, {"sc", "vq"});
    t.number("vq-ema", "D", "vq: the codebook moves by moving averages with this decay (e.g. 0.99)", opt.vq_ema,
             -HUGE_VAL, HUGE_VAL);
    t.integer("s,seed", "N", "random seed of the initial weights", opt.seed, 0, 2147483647);
    t.flag("half", "store the weights as 16-bit floats", opt.half);
    t.text("o,output", "FILE", "model file to write ('-' = stdout)", output);
    t.parse(argc, argv);
    if (t.given("latent")) opt.latent = latent_value;
    if (opt.vq_ema && !(*opt.vq_ema >= 0 && *opt.vq_ema < 1))
        throw scvae::UsageError("--vq-ema: expected a decay in [0, 1) (0: no EMA)");
    if (preset.has_value() == config.has_value()) throw scvae::UsageError("init: give exactly one of --preset and --config");
    if (!output) throw scvae::UsageError("init: -o FILE is required");
    opt.preset = preset.value_or("");
    opt.config_file = config.value_or("");
    opt.output = *output;
    return scvae::model_init_main(opt);
}

static int info_cmd(int argc, char** argv) {
    scvae::ModelInfoOptions opt;
    scvae::OptionTable t("scvae-model info", "Print a model file's config, fingerprint, parameter count and meta.\n");
    t.flag("j,json", "one JSON object per file and line", opt.json);
    t.positional("[FILE...]", opt.files);
    t.parse(argc, argv);
    // No file: the model the other tools would use ($SCVAE_MODEL, else the bundled one).
    if (opt.files.empty()) opt.files = {scvae::default_model_path()};
    return scvae::model_info_main(opt);
}

static int grow_cmd(int argc, char** argv) {
    scvae::ModelGrowOptions opt;
    std::vector<std::string> models;
    std::optional<std::string> output;
    std::optional<int> res_blocks, channels;
    scvae::OptionTable t("scvae-model grow",
                         "Write a deeper or wider model that computes what MODEL computes (default: the bundled model):\n"
                         "more residual blocks per level, each added one starting as the identity, all other weights\n"
                         "copied; and/or twice the channels, each channel copied and each weight split between the\n"
                         "copies. At least one of --res-blocks and --channels.\n"
                         "Train it on with scvae-train --init.\n");
    t.integer("r,res-blocks", "N", "residual blocks per encoder level (the decoder has one more); more than the model's",
              res_blocks, 1, 16);
    t.integer("c,channels", "N", "channels C' after the first convolution: twice the model's", channels, 1, 4096);
    t.integer("s,seed", "N", "random seed of the added blocks' initial weights and of the weight shares", opt.seed, 0,
              2147483647);
    t.flag("half", "store the weights as 16-bit floats", opt.half);
    t.text("o,output", "FILE", "model file to write ('-' = stdout)", output);
    t.positional("[MODEL]", models);
    t.parse(argc, argv);
    if (models.size() > 1) throw scvae::UsageError("grow: one model file at a time");
    if (!res_blocks && !channels) throw scvae::UsageError("grow: --res-blocks N or --channels N is required");
    if (!output) throw scvae::UsageError("grow: -o FILE is required");
    if (!models.empty()) opt.model = models[0];
    opt.res_blocks = res_blocks.value_or(0);
    opt.channels = channels.value_or(0);
    opt.output = *output;
    return scvae::model_grow_main(opt);
}

static int export_cmd(int argc, char** argv) {
    scvae::ModelExportOptions opt;
    std::vector<std::string> models;
    std::optional<std::string> output;
    scvae::OptionTable t("scvae-model export",
                         "Write a model as a TorchScript module (encode, decode, forward) for PyTorch users, by running\n"
                         "python/scvae_torch.py with $SCVAE_PYTHON (default python3), which needs PyTorch.\n");
    t.text("o,output", "FILE", "TorchScript file to write ('-' = stdout)", output);
    t.positional("[MODEL]", models);
    t.parse(argc, argv);
    if (models.size() > 1) throw scvae::UsageError("export: one model file at a time");
    if (!models.empty()) opt.model = models[0];
    if (!output) throw scvae::UsageError("export: -o FILE is required");
    opt.output = *output;
    return scvae::model_export_main(opt);
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-model", argc, argv, [](int c, char** v) {
        std::string cmd = c > 1 ? v[1] : "";
        if (cmd == "init") return init_cmd(c - 1, v + 1);
        if (cmd == "info") return info_cmd(c - 1, v + 1);
        if (cmd == "grow") return grow_cmd(c - 1, v + 1);
        if (cmd == "export") return export_cmd(c - 1, v + 1);
        if (cmd == "-h" || cmd == "--help") return std::cout << kUsage, 0;
        if (cmd == "--version") return std::cout << "scvae-model " << scvae::version_string() << "\n", 0;
        if (cmd.empty()) throw scvae::UsageError("no command given (init, info, grow or export)");
        throw scvae::UsageError("unknown command '" + cmd + "' (init, info, grow or export)");
    });
}
