// launch.h - scvae-train on several local processes: the training itself is the library's (scvae/train.h).
#pragma once

#include "scvae/train.h"

namespace scvae {

// How many local data-parallel processes a run on this machine uses: --procs when given; otherwise, for a
// CPU run outside torchrun/Slurm without --threads, one process per CPU (at most 8), reduced until it divides
// the batch; 1 when stdin is an input (--files-from -). A resumed run uses the count it was started with.
// `cpus` is the number of CPUs this process may use.
int local_procs(const TrainOptions& opt, int cpus);

// When the run should be split over N > 1 local processes, starts them (this program again, with WORLD_SIZE,
// RANK, LOCAL_RANK, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT in their environment, and the batch and
// threads divided by N on their command line), forwards SIGINT/SIGTERM/SIGHUP to them, waits, and returns the
// exit status (that of the first rank that failed, after stopping the others). Returns -1 when the run stays
// in this process (always so for a TrainOptions without argv and procs <= 1, as a library caller's).
int launch_local_procs(const TrainOptions& opt);

}  // namespace scvae
