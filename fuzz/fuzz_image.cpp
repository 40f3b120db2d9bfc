// fuzz_image.cpp - libFuzzer target for the image loaders (libpng, libjpeg-turbo and the netpbm reader through
// scvae::decode_image): fuzz_png, fuzz_jpeg and fuzz_pnm (the same code, different seeds and dictionaries).
// A decoded image must have the size its header gave and pixels in [0,1]; every failure must be a scvae::Error.
// The pixel limit is lowered so that a header claiming a large image is refused before the fuzzer's memory
// limit is reached (the tools' own limit, 1e8 pixels, is tested in tests/unit/test_image.cpp).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "scvae/error.h"
#include "scvae/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    scvae::ImageLimits limits;
    limits.max_pixels = 1u << 22;
    try {
        scvae::Image img = scvae::decode_image(data, size, "fuzz", limits);
        if (img.width < 1 || img.height < 1 || img.channels < 1 || img.channels > 4 ||
            img.data.size() != img.pixels() * static_cast<size_t>(img.channels) || img.pixels() > limits.max_pixels) {
            std::fprintf(stderr, "fuzz_image: inconsistent image %dx%dx%d\n", img.width, img.height, img.channels);
            std::abort();
        }
        for (float v : img.data)
            if (!(v >= 0.0f && v <= 1.0f)) {
                std::fprintf(stderr, "fuzz_image: pixel value %g outside [0,1]\n", static_cast<double>(v));
                std::abort();
            }
    } catch (const scvae::Error&) {
    }
    return 0;
}
