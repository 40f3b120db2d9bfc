// scvae/image.h - reading and writing PNG and JPEG images (libpng, libjpeg-turbo).
//
// Pixels are float32 in [0,1], interleaved HWC, row-major, top row first.
// All errors are scvae::Error with the message "<name>: <reason>", for example
//   "photo.jpg: not a PNG or JPEG file", "a.png: truncated or corrupt PNG (...)",
//   "huge.png: image too large (40000x40000 pixels, limit 100000000)".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace scvae {

struct Image {
    int width = 0;
    int height = 0;
    int channels = 0;       // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
    int bit_depth = 8;      // of the source file (8 or 16); written PNGs use 8 unless 16 is asked
    std::vector<float> data;  // width*height*channels values in [0,1]

    float& at(int y, int x, int c) { return data[(static_cast<size_t>(y) * width + x) * channels + c]; }
    float at(int y, int x, int c) const { return data[(static_cast<size_t>(y) * width + x) * channels + c]; }
    size_t pixels() const { return static_cast<size_t>(width) * height; }
};

enum class ImageFormat { Unknown, PNG, JPEG };

struct ImageLimits {
    // Refuse images with more pixels than this, checked from the header before any allocation.
    uint64_t max_pixels = 100'000'000ULL;
};

// Sniffs the format from the first bytes.
ImageFormat sniff_image_format(const uint8_t* data, size_t size);
// Format from a file name's extension (.png, .jpg, .jpeg, case-insensitive); Unknown otherwise.
ImageFormat image_format_from_name(const std::string& path);

// Reads a PNG or JPEG file; "-" reads standard input. `name` in messages is the path ("-" shows as "<stdin>").
Image read_image(const std::string& path, const ImageLimits& limits = {});
// Decodes an in-memory PNG or JPEG; `name` is used in messages.
Image decode_image(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits = {});

struct WriteOptions {
    int jpeg_quality = 95;
    int png_bit_depth = 8;  // 8 or 16
    // RGB triplets (at most 256): a 1-channel image is written as an 8-bit palette PNG (colour type 3 with
    // PLTE) whose index at each pixel is its 8-bit value round(255 v), which must be below the number of
    // entries. Other images and JPEG ignore it. (read_image expands a palette PNG to its colours.)
    std::vector<uint8_t> png_palette;
};

// Encodes to memory.
std::vector<uint8_t> encode_image(const Image& img, ImageFormat fmt, const WriteOptions& opt = {});
// Writes by extension (.png/.jpg/.jpeg); "-" writes PNG to standard output (or `fmt_for_stdout`).
// A file is written atomically: to a temporary file in the same folder, then renamed, so a failure leaves
// nothing behind and never a half-written image.
void write_image(const std::string& path, const Image& img, const WriteOptions& opt = {},
                 ImageFormat fmt_for_stdout = ImageFormat::PNG);

// Conversions used by the model (always RGB): gray is replicated, alpha is composited over white.
Image to_rgb(const Image& img);
// Converts to `channels` (1 or 3) for writing back in the source's colour kind.
Image to_channels(const Image& rgb, int channels);
// Nearest/bilinear resize (bilinear for images, nearest for label maps).
Image resize_bilinear(const Image& img, int width, int height);
Image resize_nearest(const Image& img, int width, int height);
// Crops a rectangle (must lie inside the image).
Image crop(const Image& img, int x, int y, int width, int height);

}  // namespace scvae
