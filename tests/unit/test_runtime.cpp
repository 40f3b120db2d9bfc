// test_runtime.cpp - the process-wide allocator settings (scvae/runtime.h).
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "scvae/runtime.h"

// glibc serves a block above its mmap threshold (32 MiB at most) with mmap and unmaps it on free, so every
// network layer would fault its activations in afresh. Tuned, such a block comes from the heap and stays there
// after free, ready for the next layer.
#if defined(__SANITIZE_ADDRESS__)
#define SCVAE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCVAE_ASAN 1
#endif
#endif

TEST(Runtime, TunedAllocatorKeepsLargeBlocksInTheHeap) {
#ifdef SCVAE_ASAN
    GTEST_SKIP() << "AddressSanitizer's allocator replaces glibc malloc: mallopt settings do not apply";
#endif
    ASSERT_TRUE(scvae::tune_allocator());
    EXPECT_TRUE(scvae::tune_allocator()) << "a second call must report the settings as in force";
    const size_t big = size_t(96) << 20;
    const size_t mapped_before = mallinfo2().hblkhd;
    auto* p = static_cast<volatile unsigned char*>(std::malloc(big));
    ASSERT_NE(p, nullptr);
    std::memset(const_cast<unsigned char*>(p), 1, big);
    EXPECT_EQ(mallinfo2().hblkhd, mapped_before) << "a 96 MiB block was served by mmap";
    const size_t in_use = mallinfo2().uordblks;
    std::free(const_cast<unsigned char*>(p));
    struct mallinfo2 after = mallinfo2();
    EXPECT_LE(after.uordblks + big, in_use + 4096);
    EXPECT_GE(after.fordblks, big) << "the freed block went back to the kernel";
}

// The heap space activations use is advised for transparent huge pages (2 MiB faults instead of 4 KiB ones):
// after tuning, a range of the [heap] mapping carries the "hg" flag (MADV_HUGEPAGE) in /proc/self/smaps and
// holds at least 256 MiB, and a block allocated now lies in it.
TEST(Runtime, TunedHeapIsAdvisedForHugePages) {
#ifdef SCVAE_ASAN
    GTEST_SKIP() << "AddressSanitizer's allocator replaces glibc malloc: the heap is not malloc's";
#endif
    if (!std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled").good())
        GTEST_SKIP() << "this kernel has no transparent huge pages";
    ASSERT_TRUE(scvae::tune_allocator());
    auto* p = static_cast<char*>(std::malloc(size_t(64) << 20));
    ASSERT_NE(p, nullptr);
    const auto addr = reinterpret_cast<uintptr_t>(p) + (size_t(32) << 20);  // the block's middle (its start may
                                                                            // precede the first 2 MiB boundary)
    std::ifstream smaps("/proc/self/smaps");
    ASSERT_TRUE(smaps.good());
    std::string line;
    uintptr_t lo = 0, hi = 0;
    bool heap = false, advised_range_holds_block = false;
    size_t advised = 0;
    while (std::getline(smaps, line)) {
        unsigned long a = 0, b = 0;
        // a mapping's first line: "lo-hi perms offset dev inode [name]"; its fields follow ("Name: value")
        if (line.find(':') > line.find(' ') && std::sscanf(line.c_str(), "%lx-%lx ", &a, &b) == 2) {
            lo = a;
            hi = b;
            heap = line.find("[heap]") != std::string::npos;
        } else if (heap && line.rfind("VmFlags:", 0) == 0 && line.find(" hg") != std::string::npos) {
            advised += hi - lo;
            if (addr >= lo && addr < hi) advised_range_holds_block = true;
        }
    }
    std::free(p);
    EXPECT_GE(advised, size_t(256) << 20) << "no huge-page advice on the heap";
    EXPECT_TRUE(advised_range_holds_block) << "a 64 MiB block was not served from the advised range";
}
