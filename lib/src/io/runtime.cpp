// runtime.cpp - process-wide allocator settings (see scvae/runtime.h).
#include "scvae/runtime.h"

#include <malloc.h>

#include <atomic>
#include <mutex>

namespace scvae {

namespace {
std::atomic<bool> g_enabled{true};
std::once_flag g_once;
bool g_applied = false;
}  // namespace

void set_allocator_tuning(bool enabled) { g_enabled.store(enabled); }

bool tune_allocator() {
    if (!g_enabled.load()) return g_applied;
    std::call_once(g_once, [] {
        // No mmap for large blocks: activations come from the heap and are reused layer after layer.
        bool ok = mallopt(M_MMAP_MAX, 0) == 1;
        // Give the heap top back only when more than 1 GiB of it is free (the default is 128 KiB, which
        // returns every layer's buffers to the kernel).
        ok = mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 && ok;
        // One arena: threads (image workers, loaders) allocate from the main heap too. An arena of their own grows
        // in 64 MiB heaps that glibc unmaps whenever one falls empty, so every large activation of a worker was
        // faulted in afresh (decode at 512 px on two workers: 29 % -> 6 % of the CPU time in the kernel). The
        // blocks are few and large, so the shared lock costs nothing measurable.
        ok = mallopt(M_ARENA_MAX, 1) == 1 && ok;
        g_applied = ok;
    });
    return g_applied;
}

}  // namespace scvae
