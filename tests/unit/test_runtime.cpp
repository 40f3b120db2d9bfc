// test_runtime.cpp - the process-wide allocator settings (scvae/runtime.h).
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

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
