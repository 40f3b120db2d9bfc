// scvae-train - train SC-VAE on a folder of photos, on one process or data-parallel over many.
#include <cmath>

#include "options.h"
#include "scvae-train/launch.h"

static scvae::TrainOptions parse(int argc, char** argv) {
    scvae::TrainOptions opt;
    constexpr double kInf = HUGE_VAL;
    // Options whose absence means "automatic" or "from the environment" in TrainOptions (0, or the
    // torchrun/Slurm variables, which the flags override): parsed into optionals, copied below.
    std::optional<int> d, channels, n, K, lista_steps, steps, val_every, log_every, threads, procs, data_threads;
    std::optional<int> world_size, rank, local_rank, master_port;
    std::optional<std::string> solver, master_addr;
    std::optional<double> vq_beta, vq_ema, init_alpha;
    std::string latent;
    scvae::OptionTable t("scvae-train", "Train an SC-VAE model on PNG/JPEG images; writes a run directory.\n"
                                        "Usage: scvae-train [options] -o RUN_DIR IMAGE_OR_FOLDER...\n"
                                        "       scvae-train --resume RUN_DIR [--steps N | --epochs N]");
    t.text("o,output", "RUN_DIR", "run directory to create", opt.run_dir);
    t.text("resume", "RUN_DIR", "continue the run in RUN_DIR exactly where its checkpoint stopped", opt.resume);
    t.list("files-from", "FILE", "read image paths from FILE, one per line ('-' = stdin); repeatable", opt.files_from);
    t.text("val", "DIR", "validation images: a folder or file (default: a hash split of the inputs)", opt.val_dir);
    t.custom("val-fraction", "F", "share of the inputs held out for validation (deterministic by file name)",
             [&](const std::string& v) {
                 opt.val_fraction = scvae::parse_double_option("--val-fraction", v);
                 if (opt.val_fraction < 0 || opt.val_fraction >= 1)
                     throw scvae::UsageError("--val-fraction: expected 0 <= F < 1");
             },
             "0.05");
    t.integer("val-images", "N", "use at most N validation images", opt.val_images, 0, 1 << 30);
    t.integer("s,size", "PIXELS", "training crop and validation centre crop, pixels (multiple of 2^d)", opt.size, 1,
              65536);
    t.integer("resize-short", "N", "first downscale images so the short side is at most N (0: keep)", opt.resize_short, 0,
              1 << 20);
    t.text("p,preset", "NAME", "model preset (paper-f8, paper-f16, paper-f64, paper-f256, cpu-f8, tiny)", opt.preset);
    t.text("config", "FILE", "model config JSON file (or a model file's header config)", opt.config_file);
    t.integer("d", "N", "downsampling levels d (factor 2^d)", d, 0, 1 << 20);
    t.integer("channels", "N", "channels C' after the first convolution", channels, 1, 1 << 20);
    t.integer("n", "N", "latent dimension n (a perfect square)", n, 1, 1 << 20);
    t.integer("K", "N", "dictionary atoms K", K, 1, 1 << 20);
    t.integer("lista-steps", "N", "LISTA unrolled steps s", lista_steps, 0, 1 << 16);
    t.text("solver", "NAME", "lista, ista or fista", solver);
    t.choice("latent", "sc|vq", "sc (sparse codes, the default) or vq (the VQ-VAE baseline: one codebook entry per vector)",
             latent, {"sc", "vq"});
    t.number("vq-beta", "B", "vq: weight of the commitment loss (default 0.25)", vq_beta, 0, 1e6);
    t.number("vq-ema", "D", "vq: move the codebook by moving averages with this decay, e.g. 0.99 (default: by its loss)",
             vq_ema, -kInf, kInf);
    t.text("init", "MODEL", "start from the weights of this model file (fine-tuning)", opt.init_model);
    t.number("alpha", "A", "weight of ||z||_1 in the loss (fixed, not learned)", opt.alpha, 0, kInf);
    t.number("init-alpha", "A", "the LISTA thresholds start at A/L (default: --alpha; with --init: the model's)",
             init_alpha, 0, kInf);
    t.number("lr", "RATE", "Adam learning rate", opt.lr, -kInf, kInf);
    t.number("grown-lr", "F", "the layers scvae-model grow added to the --init model train at F times --lr", opt.grown_lr,
             -kInf, kInf);
    t.number("adam-eps", "EPS", "Adam's epsilon", opt.adam_eps, -kInf, kInf);
    t.integer("b,batch", "N", "images per step (split over --procs; per process under torchrun or Slurm)", opt.batch, 1,
              1 << 16);
    t.integer("epochs", "N", "epochs to train", opt.epochs, 1, 1 << 30);
    t.integer("steps", "N", "train this many steps instead of --epochs", steps, 1, 2147483647);
    t.number("grad-clip", "NORM", "clip the gradient norm (0: off)", opt.grad_clip, -kInf, kInf);
    t.integer("seed", "N", "random seed (initial weights, data order, crops)", opt.seed, 0, 2147483647);
    t.integer("val-every", "N", "validate (and checkpoint) every N steps (default: every epoch)", val_every, 0,
              2147483647);
    t.integer("checkpoint-every", "N", "also checkpoint every N steps", opt.checkpoint_every, 0, 2147483647);
    t.integer("log-every", "N", "log line every N steps (default: about 20 per run, at most every 100)", log_every, 0,
              2147483647);
    t.flag("half", "store the best/last models in 16-bit floats", opt.half);
    t.integer("procs", "N", "local data-parallel processes sharing the batch (default: one per CPU when the batch divides)",
              procs, 1, 256);
    t.integer("t,threads", "N", "CPU threads per process (default: the CPUs divided by the processes)", threads, 1, 4096);
    t.integer("data-threads", "N", "threads decoding and augmenting images (default: threads/2, 1..4)", data_threads, 1,
              256);
    scvae::common::device(t, opt.device);
    t.integer("world-size", "N", "number of processes (default: $WORLD_SIZE, else 1)", world_size, 1, 65536);
    t.integer("rank", "N", "this process's rank (default: $RANK)", rank, 0, 65535);
    t.integer("local-rank", "N", "rank on this machine (default: $LOCAL_RANK)", local_rank, 0, 65535);
    t.text("master-addr", "HOST", "rendezvous host (default: $MASTER_ADDR, else 127.0.0.1)", master_addr);
    t.integer("master-port", "PORT", "rendezvous TCP port (default: $MASTER_PORT, else 29500)", master_port, 1, 65535);
    t.integer("dist-timeout", "SECONDS", "seconds to wait for the other processes", opt.dist_timeout_s, 1, 1 << 20);
    t.integer("bucket-mb", "MIB", "gradient all-reduce bucket size in MiB", opt.bucket_mb, 1, 1 << 16);
    t.text("rank-model", "FILE", "every rank writes its final weights to FILE ({rank} is replaced)", opt.rank_model);
    scvae::common::quiet(t, opt.quiet, "no progress bar or progress lines");
    t.positional("IMAGE_OR_FOLDER...", opt.inputs);
    t.parse(argc, argv);

    for (int i = 0; i < argc; ++i) opt.command_line += (i ? " " : "") + std::string(argv[i]);
    opt.argv.assign(argv, argv + argc);
    opt.given = t.given();
    const std::pair<const char*, const std::optional<int>&> model_ints[] = {
        {"d", d}, {"channels", channels}, {"n", n}, {"K", K}, {"steps", lista_steps}};
    for (const auto& [key, v] : model_ints)
        if (v) opt.config_overrides[key] = *v;
    if (solver) opt.config_overrides["solver"] = *solver;
    if (!latent.empty()) opt.config_overrides["latent"] = latent;
    if (vq_beta) opt.config_overrides["beta"] = *vq_beta;
    if (vq_ema) {
        if (!(*vq_ema >= 0 && *vq_ema < 1)) throw scvae::UsageError("--vq-ema: expected a decay in [0, 1) (0: no EMA)");
        opt.config_overrides["ema_decay"] = *vq_ema;
    }
    if (init_alpha) opt.init_alpha = *init_alpha;
    if (!(opt.lr > 0)) throw scvae::UsageError("--lr: expected a positive number");
    if (!(opt.grown_lr > 0 && std::isfinite(opt.grown_lr))) throw scvae::UsageError("--grown-lr: expected a positive number");
    if (!(opt.adam_eps > 0)) throw scvae::UsageError("--adam-eps: expected a positive number");
    if (steps) opt.steps = *steps;
    if (val_every) opt.val_every = *val_every;
    if (log_every) opt.log_every = *log_every;
    if (threads) opt.threads = *threads;
    if (procs) opt.procs = *procs;
    if (data_threads) opt.data_threads = *data_threads;
    scvae::distributed_from_env(opt);
    if (world_size) opt.world_size = *world_size;
    if (rank) opt.rank = *rank;
    if (local_rank) opt.local_rank = *local_rank;
    if (master_addr) opt.master_addr = *master_addr;
    if (master_port) opt.master_port = *master_port;
    if (opt.resume.empty() && opt.inputs.empty() && opt.files_from.empty())
        throw scvae::UsageError("no training images (give folders or files, or --files-from)");
    if (!opt.resume.empty() && !opt.run_dir.empty()) throw scvae::UsageError("--resume and -o cannot be combined");
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-train", argc, argv, [](int c, char** v) {
        const scvae::TrainOptions opt = parse(c, v);
        if (int rc = scvae::launch_local_procs(opt); rc >= 0) return rc;  // this process only started the ranks
        return scvae::train_main(opt);
    });
}
