// runtime.cpp - process-wide allocator settings (see scvae/runtime.h).
#include "scvae/runtime.h"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>

#include <atomic>
#include <mutex>

namespace scvae {

namespace {
std::atomic<bool> g_enabled{true};

// The heap space that huge pages back (see below): the activations of the tools at 256-512 px fit in it.
constexpr size_t kHugeHeap = size_t(512) << 20;
constexpr uintptr_t kHugePage = uintptr_t(2) << 20;

// Grows the heap by kHugeHeap without touching it, asks for transparent huge pages over that range and hands
// it back to malloc as free top (kept: it is under the trim threshold). Activations then fault in 2 MiB at a
// time instead of 4 KiB: measured on 16 images of 256 px (A/B of the same build, 3 runs each), encode
// 2.13-2.22 -> 1.95-2.08 s wall and decode 2.67-2.82 -> 2.35-2.47 s, with fewer TLB misses too; a long stream
// gains nothing (its pages are faulted in once either way). Where the kernel does not offer huge pages to madvise (transparent_hugepage=never) this
// changes nothing. Requires the settings above (no mmap for large blocks), so that the block comes from the heap.
void reserve_huge_heap() {
    void* p = std::malloc(kHugeHeap);
    if (!p) return;
    const auto begin = (reinterpret_cast<uintptr_t>(p) + kHugePage - 1) & ~(kHugePage - 1);
    const auto end = (reinterpret_cast<uintptr_t>(p) + kHugeHeap) & ~(kHugePage - 1);
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
    std::free(p);
}
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
        if (ok) reserve_huge_heap();
        g_applied = ok;
    });
    return g_applied;
}

}  // namespace scvae
