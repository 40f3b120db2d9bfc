// scvae/train.h - training SC-VAE (a run folder, resumable), on one process or data-parallel over many.
// No LibTorch headers here; the loop lives in lib/src/train/train.cpp.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace scvae {

struct TrainOptions {
    // data
    std::vector<std::string> inputs;       // folders (recursive) and image files
    std::vector<std::string> files_from;   // list files ("-" = stdin)
    std::string val_dir;                   // --val DIR (a folder or list of files); empty: --val-fraction
    double val_fraction = 0.05;            // deterministic hash split when no --val
    int size = 256;                        // training crop / validation centre crop
    int resize_short = 0;                  // downscale images so the short side is at most this (0: keep)
    int data_threads = 0;                  // decoding/augmentation threads (0: automatic)
    int val_images = 0;                    // cap on validation images (0: all)

    // model: a preset, a JSON config, and flags that override fields
    std::string preset = "cpu-f8";
    std::string config_file;
    nlohmann::json config_overrides = nlohmann::json::object();  // d, channels, n, K, s, solver, ...
    std::string init_model;                // start from these weights (fine-tuning)

    // optimisation (defaults: the paper's section 5)
    double alpha = 1.0;                    // weight of ||z||_1 in Eq. (4)/(5): a hyperparameter, not learned
    double init_alpha = -1;                // a new model's LISTA thresholds start at init_alpha/L (< 0: alpha)
    double lr = 1e-4;
    double grown_lr = 1;                   // the layers an --init model's meta "grown_layers" names (scvae-model
                                           // grow) train at grown_lr * lr
    double adam_eps = 1e-8;                // Adam's epsilon
    int batch = 16;                        // per process
    int epochs = 10;
    int64_t steps = 0;                     // > 0: train this many steps instead of `epochs`
    double grad_clip = 0;                  // > 0: clip the global gradient norm
    uint64_t seed = 0;

    // run directory, logging
    std::string run_dir;                   // required unless resuming
    std::string resume;                    // --resume RUN_DIR
    int64_t val_every = 0;                 // validate every N steps (0: once per epoch)
    int64_t checkpoint_every = 0;          // also checkpoint every N steps (0: at validation)
    int64_t log_every = 0;                 // plain progress line every N steps (0: automatic)
    bool half = false;                     // store best/last models in 16-bit floats
    bool quiet = false;
    int threads = 0;                       // LibTorch threads (0: every CPU, or every CPU / procs)
    int procs = 0;                         // local data-parallel processes (0: automatic, see local_procs())
    std::string device = "cpu";
    std::string command_line;              // recorded in command.txt
    std::vector<std::string> argv;         // the program's arguments, argv[0] first (to start local ranks)
    std::set<std::string> given;           // long names of the options given on the command line ("d", "n",
                                           // "K" for the one-letter model flags): what --resume may override

    // distributed (defaults from MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK; flags override)
    int world_size = 1;
    int rank = 0;
    int local_rank = 0;
    std::string master_addr = "127.0.0.1";
    int master_port = 29500;
    int dist_timeout_s = 300;
    int64_t bucket_mb = 25;                // gradient all-reduce bucket size
    std::string rank_model;                // every rank writes its final weights here ({rank} expanded)
};

// Fills the distributed fields from the torchrun/Slurm environment (MASTER_ADDR, MASTER_PORT, WORLD_SIZE,
// RANK, LOCAL_RANK; SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID as fall-backs). Throws InvalidArgument for bad values.
void distributed_from_env(TrainOptions& opt);

// Runs a training (or resumes one). Returns the exit status (0; 1 after an interrupted run that wrote its
// checkpoint is still 0 - a clean stop). Throws Error (InvalidArgument for options that do not fit).
int train_main(const TrainOptions& opt);

}  // namespace scvae
