// scvae/image.h - reading and writing PNG and JPEG images (libpng, libjpeg-turbo) and raw netpbm images
// (PBM P4, PGM P5, PPM P6, PAM P7; 8 or 16 bit), one at a time or several concatenated in one stream.
//
// Pixels are float32 in [0,1], interleaved HWC, row-major, top row first.
// All errors are scvae::Error with the message "<name>: <reason>", for example
//   "photo.jpg: not a PNG, JPEG or netpbm file", "a.png: truncated or corrupt PNG (...)",
//   "huge.png: image too large (40000x40000 pixels, limit 100000000)".
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <memory>
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

enum class ImageFormat { Unknown, PNG, JPEG, PNM };

struct ImageLimits {
    // Refuse images with more pixels than this, checked from the header before any allocation.
    uint64_t max_pixels = 100'000'000ULL;
};

// Sniffs the format from the first bytes.
ImageFormat sniff_image_format(const uint8_t* data, size_t size);
// Format from a file name's extension (case-insensitive): .png; .jpg, .jpeg; .ppm, .pgm, .pbm, .pnm, .pam
// (netpbm); Unknown otherwise.
ImageFormat image_format_from_name(const std::string& path);
// Whether the name ends in an extension the image readers know (.png, .jpg, .jpeg, .pgm, .ppm, .pnm, any case).
inline bool has_image_extension(const std::string& path) { return image_format_from_name(path) != ImageFormat::Unknown; }
// "<path>: unknown image extension (use .png, .jpg, .jpeg, .ppm, .pgm, .pnm or .pam)": the message for an
// output name whose extension names no format these functions write.
std::string unknown_extension_message(const std::string& path);

// Reads a PNG, JPEG or netpbm file (the first image of a netpbm stream); "-" reads standard input.
// `name` in messages is the path ("-" shows as "<stdin>").
Image read_image(const std::string& path, const ImageLimits& limits = {});
// Decodes an in-memory PNG, JPEG or netpbm image (the first one); `name` is used in messages.
Image decode_image(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits = {});

struct WriteOptions {
    int jpeg_quality = 95;
    int png_bit_depth = 8;  // 8 or 16
    // RGB triplets (at most 256): a 1-channel image is written as an 8-bit palette PNG (colour type 3 with
    // PLTE) whose index at each pixel is its 8-bit value round(255 v), which must be below the number of
    // entries. Other images and JPEG ignore it. (read_image expands a palette PNG to its colours.)
    std::vector<uint8_t> png_palette;
};

// Encodes to memory. PNM writes P5 (gray) or P6 (colour), alpha dropped, maxval 255 (65535 with
// png_bit_depth 16); encode_pam writes P7 with every channel.
std::vector<uint8_t> encode_image(const Image& img, ImageFormat fmt, const WriteOptions& opt = {});
std::vector<uint8_t> encode_pam(const Image& img, const WriteOptions& opt = {});
// Writes by extension (.png/.jpg/.jpeg/.ppm/.pgm/.pnm/.pam); "-" writes PNG to standard output (or `fmt_for_stdout`).
// A file is written atomically: to a temporary file in the same folder, then renamed, so a failure leaves
// nothing behind and never a half-written image.
void write_image(const std::string& path, const Image& img, const WriteOptions& opt = {},
                 ImageFormat fmt_for_stdout = ImageFormat::PNG);

// Several images in one byte stream, as netpbm programs write them (P4-P7 images back to back) and as `cat`
// joins PNG and JPEG files: each next() returns the bytes of one image, found from its own structure (PNG
// chunks up to IEND, JPEG markers up to EOI, a netpbm header and its raster), without decoding it; decode
// them with decode_image. Whitespace between images is skipped (as netpbm does). Reading is incremental:
// memory holds one image.
//
// With `single` (a named file), the input holds one image as before, except that a netpbm image may be
// followed by more netpbm images. Without it (standard input), any mix of formats may follow.
// An image whose end cannot be found (an unknown format, a corrupt header) takes the rest of the input, so
// that decode_image reports it with its usual message and the stream ends there. A truncated image is
// returned as it is, for decode_image to report. Bytes after an image that start no known image are left
// unread: trailing() says how many there were (after the last next() returned false).
class ImageStreamReader {
public:
    // Reads from `f` (not owned); `name` for messages.
    ImageStreamReader(FILE* f, std::string name, bool single, const ImageLimits& limits = {});
    ~ImageStreamReader();
    ImageStreamReader(const ImageStreamReader&) = delete;
    ImageStreamReader& operator=(const ImageStreamReader&) = delete;
    // The next image's bytes; false at the end (never for the first image: an empty input gives empty bytes,
    // which decode_image reports as "empty file"). Throws Error("<name>: read error: ...").
    bool next(std::vector<uint8_t>& bytes);
    // After next() returned true: whether another image follows (looks ahead, so on a pipe it waits for the
    // writer's next bytes or end).
    bool more();
    size_t images_read() const { return count_; }
    uint64_t trailing() const { return trailing_; }

private:
    struct Buf;
    std::unique_ptr<Buf> in_;
    std::string name_;
    bool single_;
    ImageLimits limits_;
    size_t count_ = 0;
    bool done_ = false;
    uint64_t trailing_ = 0;
    void frame_png(std::vector<uint8_t>& out);
    void frame_jpeg(std::vector<uint8_t>& out);
    bool frame_pnm(std::vector<uint8_t>& out);
    void rest(std::vector<uint8_t>& out);
    int next_kind();  // after whitespace: 'P' PNG, 'J' JPEG, 'N' netpbm, 0 end, '?' anything else
};

// The source name of the n-th image (1-based) of an input holding several: "stdin-0001" for "-",
// "dir/frames-0001.ppm" for "dir/frames.ppm" (at least 4 digits). An input with one image keeps its name.
std::string stream_image_name(const std::string& path, size_t n);

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
