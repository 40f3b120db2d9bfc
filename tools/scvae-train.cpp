// scvae-train - train SC-VAE on a folder of photos, on one process or data-parallel over many.
#include "scvae/cli.h"
#include "scvae/error.h"
#include "scvae/train.h"

static scvae::TrainOptions parse(int argc, char** argv) {
    cxxopts::Options o("scvae-train", "Train an SC-VAE model on PNG/JPEG images; writes a run directory.\n"
                                      "Usage: scvae-train [options] -o RUN_DIR IMAGE_OR_FOLDER...\n"
                                      "       scvae-train --resume RUN_DIR [--steps N | --epochs N]");
    using S = std::string;
    o.add_options()
        ("o,output", "run directory to create", cxxopts::value<S>())
        ("resume", "continue the run in RUN_DIR exactly where its checkpoint stopped", cxxopts::value<S>())
        ("files-from", "read image paths from FILE, one per line ('-' = stdin); repeatable", cxxopts::value<std::vector<S>>())
        ("val", "validation images: a folder or file (default: a hash split of the inputs)", cxxopts::value<S>())
        ("val-fraction", "share of the inputs held out for validation (deterministic by file name)", cxxopts::value<S>()->default_value("0.05"))
        ("val-images", "use at most N validation images", cxxopts::value<S>()->default_value("0"))
        ("s,size", "training crop and validation centre crop, pixels (multiple of 2^d)", cxxopts::value<S>()->default_value("256"))
        ("resize-short", "first downscale images so the short side is at most N (0: keep)", cxxopts::value<S>()->default_value("0"))
        ("p,preset", "model preset (paper-f8, paper-f16, paper-f64, paper-f256, cpu-f8, tiny)", cxxopts::value<S>()->default_value("cpu-f8"))
        ("config", "model config JSON file (or a model file's header config)", cxxopts::value<S>())
        ("d", "downsampling levels d (factor 2^d)", cxxopts::value<S>())
        ("channels", "channels C' after the first convolution", cxxopts::value<S>())
        ("n", "latent dimension n (a perfect square)", cxxopts::value<S>())
        ("K", "dictionary atoms K", cxxopts::value<S>())
        ("lista-steps", "LISTA unrolled steps s", cxxopts::value<S>())
        ("solver", "lista, ista or fista", cxxopts::value<S>())
        ("latent", "sc (sparse codes, the default) or vq (the VQ-VAE baseline: one codebook entry per vector)", cxxopts::value<S>())
        ("vq-beta", "vq: weight of the commitment loss (default 0.25)", cxxopts::value<S>())
        ("vq-ema", "vq: move the codebook by moving averages with this decay, e.g. 0.99 (default: by its loss)", cxxopts::value<S>())
        ("init", "start from the weights of this model file (fine-tuning)", cxxopts::value<S>())
        ("alpha", "weight of ||z||_1 in the loss (fixed, not learned)", cxxopts::value<S>()->default_value("1"))
        ("init-alpha", "the LISTA thresholds start at A/L (default: --alpha; with --init: the model's)", cxxopts::value<S>())
        ("lr", "Adam learning rate", cxxopts::value<S>()->default_value("1e-4"))
        ("adam-eps", "Adam's epsilon", cxxopts::value<S>()->default_value("1e-8"))
        ("b,batch", "images per step (split over --procs; per process under torchrun or Slurm)", cxxopts::value<S>()->default_value("16"))
        ("epochs", "epochs to train", cxxopts::value<S>()->default_value("10"))
        ("steps", "train this many steps instead of --epochs", cxxopts::value<S>())
        ("grad-clip", "clip the gradient norm (0: off)", cxxopts::value<S>()->default_value("0"))
        ("seed", "random seed (initial weights, data order, crops)", cxxopts::value<S>()->default_value("0"))
        ("val-every", "validate (and checkpoint) every N steps (default: every epoch)", cxxopts::value<S>())
        ("checkpoint-every", "also checkpoint every N steps", cxxopts::value<S>()->default_value("0"))
        ("log-every", "log line every N steps (default: about 20 per run, at most every 100)", cxxopts::value<S>())
        ("half", "store the best/last models in 16-bit floats")
        ("procs", "local data-parallel processes sharing the batch (default: one per CPU when the batch divides)", cxxopts::value<S>())
        ("t,threads", "CPU threads per process (default: the CPUs divided by the processes)", cxxopts::value<S>())
        ("data-threads", "threads decoding and augmenting images (default: threads/2, 1..4)", cxxopts::value<S>())
        ("device", "cpu or cuda", cxxopts::value<S>()->default_value("cpu"))
        ("world-size", "number of processes (default: $WORLD_SIZE, else 1)", cxxopts::value<S>())
        ("rank", "this process's rank (default: $RANK)", cxxopts::value<S>())
        ("local-rank", "rank on this machine (default: $LOCAL_RANK)", cxxopts::value<S>())
        ("master-addr", "rendezvous host (default: $MASTER_ADDR, else 127.0.0.1)", cxxopts::value<S>())
        ("master-port", "rendezvous TCP port (default: $MASTER_PORT, else 29500)", cxxopts::value<S>())
        ("dist-timeout", "seconds to wait for the other processes", cxxopts::value<S>()->default_value("300"))
        ("bucket-mb", "gradient all-reduce bucket size in MiB", cxxopts::value<S>()->default_value("25"))
        ("rank-model", "every rank writes its final weights to FILE ({rank} is replaced)", cxxopts::value<S>())
        ("q,quiet", "no progress bar or progress lines")
        ("h,help", "show this help")
        ("version", "show the version")
        ("inputs", "images", cxxopts::value<std::vector<S>>());
    o.parse_positional({"inputs"});
    o.positional_help("IMAGE_OR_FOLDER...");
    auto r = scvae::parse_or_usage(o, argc, argv);
    auto str = [&](const char* k) { return r[k].as<S>(); };
    auto num = [&](const char* k, int lo, int hi) { return scvae::parse_int_option(std::string("--") + k, str(k), lo, hi); };
    auto real = [&](const char* k) { return scvae::parse_double_option(std::string("--") + k, str(k)); };
    scvae::TrainOptions opt;
    for (int i = 0; i < argc; ++i) opt.command_line += (i ? " " : "") + std::string(argv[i]);
    opt.argv.assign(argv, argv + argc);
    for (const auto& kv : r.arguments()) opt.given.insert(kv.key());
    if (r.count("inputs")) opt.inputs = r["inputs"].as<std::vector<S>>();
    if (r.count("files-from")) opt.files_from = r["files-from"].as<std::vector<S>>();
    if (r.count("output")) opt.run_dir = str("output");
    if (r.count("resume")) opt.resume = str("resume");
    if (r.count("val")) opt.val_dir = str("val");
    opt.val_fraction = real("val-fraction");
    if (opt.val_fraction < 0 || opt.val_fraction >= 1) throw scvae::UsageError("--val-fraction: expected 0 <= F < 1");
    opt.val_images = num("val-images", 0, 1 << 30);
    opt.size = num("size", 1, 65536);
    opt.resize_short = num("resize-short", 0, 1 << 20);
    opt.preset = str("preset");
    if (r.count("config")) opt.config_file = str("config");
    for (const char* k : {"d", "channels", "n", "K"})
        if (r.count(k)) opt.config_overrides[k] = num(k, k[0] == 'd' ? 0 : 1, 1 << 20);
    if (r.count("lista-steps")) opt.config_overrides["steps"] = num("lista-steps", 0, 1 << 16);
    if (r.count("solver")) opt.config_overrides["solver"] = str("solver");
    if (r.count("latent")) {
        if (str("latent") != "sc" && str("latent") != "vq") throw scvae::UsageError("--latent: expected sc or vq, got '" + str("latent") + "'");
        opt.config_overrides["latent"] = str("latent");
    }
    if (r.count("vq-beta")) {
        const double b = real("vq-beta");
        if (!(b >= 0 && b <= 1e6)) throw scvae::UsageError("--vq-beta: expected a number >= 0");
        opt.config_overrides["beta"] = b;
    }
    if (r.count("vq-ema")) {
        const double g = real("vq-ema");
        if (!(g >= 0 && g < 1)) throw scvae::UsageError("--vq-ema: expected a decay in [0, 1) (0: no EMA)");
        opt.config_overrides["ema_decay"] = g;
    }
    if (r.count("init")) opt.init_model = str("init");
    opt.alpha = real("alpha");
    if (opt.alpha < 0) throw scvae::UsageError("--alpha: expected a number >= 0");
    if (r.count("init-alpha")) {
        opt.init_alpha = real("init-alpha");
        if (!(opt.init_alpha >= 0)) throw scvae::UsageError("--init-alpha: expected a number >= 0");
    }
    opt.lr = real("lr");
    if (!(opt.lr > 0)) throw scvae::UsageError("--lr: expected a positive number");
    opt.adam_eps = real("adam-eps");
    if (!(opt.adam_eps > 0)) throw scvae::UsageError("--adam-eps: expected a positive number");
    opt.batch = num("batch", 1, 1 << 16);
    opt.epochs = num("epochs", 1, 1 << 30);
    if (r.count("steps")) opt.steps = num("steps", 1, 2147483647);
    opt.grad_clip = real("grad-clip");
    opt.seed = static_cast<uint64_t>(num("seed", 0, 2147483647));
    if (r.count("val-every")) opt.val_every = num("val-every", 0, 2147483647);
    opt.checkpoint_every = num("checkpoint-every", 0, 2147483647);
    if (r.count("log-every")) opt.log_every = num("log-every", 0, 2147483647);
    opt.half = r.count("half") > 0;
    opt.quiet = r.count("quiet") > 0;
    if (r.count("threads")) opt.threads = num("threads", 1, 4096);
    if (r.count("procs")) opt.procs = num("procs", 1, 256);
    if (r.count("data-threads")) opt.data_threads = num("data-threads", 1, 256);
    opt.device = str("device");
    scvae::distributed_from_env(opt);
    if (r.count("world-size")) opt.world_size = num("world-size", 1, 65536);
    if (r.count("rank")) opt.rank = num("rank", 0, 65535);
    if (r.count("local-rank")) opt.local_rank = num("local-rank", 0, 65535);
    if (r.count("master-addr")) opt.master_addr = str("master-addr");
    if (r.count("master-port")) opt.master_port = num("master-port", 1, 65535);
    opt.dist_timeout_s = num("dist-timeout", 1, 1 << 20);
    opt.bucket_mb = num("bucket-mb", 1, 1 << 16);
    if (r.count("rank-model")) opt.rank_model = str("rank-model");
    if (opt.resume.empty() && opt.inputs.empty() && opt.files_from.empty())
        throw scvae::UsageError("no training images (give folders or files, or --files-from)");
    if (!opt.resume.empty() && !opt.run_dir.empty()) throw scvae::UsageError("--resume and -o cannot be combined");
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-train", argc, argv, [](int c, char** v) { return scvae::train_main(parse(c, v)); });
}
