// scvae/runtime.h - process-wide settings that let LibTorch run at the machine's speed on a CPU.
//
// glibc's malloc serves blocks above a dynamic threshold (at most 32 MiB) with mmap and gives them back with
// munmap when freed, and trims the heap top above 128 KiB. A network's activations are such blocks, allocated
// and freed once per layer, so with the defaults every layer maps fresh pages and faults them in again: the
// tools spent 30-45 % of their time in the kernel (bench/bench_e2e measures it). tune_allocator() keeps freed
// memory in the process instead (mallopt: no mmap for large blocks, heap trimmed only above 1 GiB of free
// top, one arena for every thread), which brings the kernel's share under a few per cent at the cost of a peak RSS that is kept rather
// than returned. It also grows the heap by 512 MiB of untouched address space advised for transparent huge pages
// (madvise MADV_HUGEPAGE), so that a process's first activations fault in 2 MiB at a time: 6-12 % less wall time
// for a 16-image encode or decode (where the kernel offers huge pages on request; elsewhere nothing changes).
//
// Every scvae program calls it first (run_tool), and so do Codec::load, Codec::init and training, so a program
// that links libscvae gets the fast path without calling anything. A program that wants its own malloc settings
// calls set_allocator_tuning(false) before it loads a model.
#pragma once

namespace scvae {

// Applies the malloc settings above once per process (thread-safe; later calls do nothing). Returns true when
// the settings are in force (applied now or before), false when tuning is switched off or mallopt refused.
bool tune_allocator();

// Switches tune_allocator() off (false) or on (true, the default) for this process; it has no effect on
// settings that were already applied.
void set_allocator_tuning(bool enabled);

}  // namespace scvae
