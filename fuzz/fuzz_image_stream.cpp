// fuzz_image_stream.cpp - libFuzzer target for scvae::ImageStreamReader, the framing of several images back to
// back on one input (PNG chunks, JPEG markers, netpbm headers; lib/src/image/image_stream.cpp). The input is served
// through a memfd, as a file descriptor like stdin. Checks: the frames never hold more bytes than the input,
// each frame is decoded or refused with a scvae::Error (never a crash), and the reader stops (at most one frame
// per input byte, plus the empty first frame). Header claims of huge images must not allocate beyond the input:
// libFuzzer's -rss_limit_mb catches that.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "scvae/error.h"
#include "scvae/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    int fd = memfd_create("fuzz_image_stream", 0);
    if (fd < 0) return 0;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) {
            close(fd);
            return 0;
        }
        off += static_cast<size_t>(w);
    }
    lseek(fd, 0, SEEK_SET);
    FILE* f = fdopen(fd, "rb");
    if (!f) {
        close(fd);
        return 0;
    }
    scvae::ImageLimits limits;
    limits.max_pixels = 1u << 22;
    const bool single = size > 0 && (data[0] & 1);  // both modes: a file (one PNG/JPEG) and a stream
    try {
        scvae::ImageStreamReader reader(f, "fuzz", single, limits);
        std::vector<uint8_t> bytes;
        size_t total = 0, frames = 0;
        while (reader.next(bytes)) {
            total += bytes.size();
            if (total > size || ++frames > size + 1) {
                std::fprintf(stderr, "fuzz_image_stream: %zu frames, %zu bytes from a %zu-byte input\n", frames,
                             total, size);
                std::abort();
            }
            try {
                scvae::Image img = scvae::decode_image(bytes.data(), bytes.size(), "fuzz", limits);
                if (img.data.size() != img.pixels() * static_cast<size_t>(img.channels)) std::abort();
            } catch (const scvae::Error&) {
            }
            if (!reader.more()) break;
        }
    } catch (const scvae::Error&) {
    }
    std::fclose(f);
    return 0;
}
