// make-test-images.cpp - writes the image fixtures under tests/data/images (run scripts/make-test-images.sh).
//
// Synthetic images use exact formulas (the unit tests check their values); "photo" images are crops of two
// real photographs, downscaled by repeated 2x bilinear halving (a 2x2 box filter) so they keep natural
// image statistics. Output is deterministic for a given libpng/libjpeg-turbo and source photograph.
//
//   make-test-images OUT_DIR PHOTO_A.jpg PHOTO_B.jpg

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <png.h>

#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/io.h"

using scvae::Image;

namespace {

std::string out_dir;

std::string out(const std::string& name) { return out_dir + "/" + name; }

void save_bytes(const std::string& name, const std::vector<uint8_t>& bytes) {
    scvae::write_file_atomic(out(name), bytes.data(), bytes.size());
}

// Downscale to (w, h): bilinear to the nearest power-of-two multiple, then exact 2x halvings.
Image downscale(const Image& img, int w, int h) {
    int k = 1;
    while (img.width >= w * k * 2 && img.height >= h * k * 2) k *= 2;
    Image cur = scvae::resize_bilinear(img, w * k, h * k);
    while (k > 1) {
        k /= 2;
        cur = scvae::resize_bilinear(cur, w * k, h * k);
    }
    return cur;
}

Image photo_crop(const Image& src, int x, int y, int size_w, int size_h, int w, int h) {
    return downscale(scvae::crop(src, x, y, size_w, size_h), w, h);
}

std::vector<uint8_t> to_u8(const Image& img) {
    std::vector<uint8_t> v(img.data.size());
    for (size_t i = 0; i < v.size(); ++i) {
        float f = img.data[i] * 255.0f + 0.5f;
        v[i] = static_cast<uint8_t>(f < 0 ? 0 : f > 255 ? 255 : f);
    }
    return v;
}

// A JPEG through libjpeg directly (the library writes baseline RGB/gray only): `px` holds w x h samples of
// `components` each in `space`. No error handling beyond libjpeg's default (exit), fine for a generator.
void write_raw_jpeg(const std::string& name, const std::vector<uint8_t>& px, int w, int h, int components,
                    J_COLOR_SPACE space, int quality, bool progressive) {
    jpeg_compress_struct c;
    jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char* buf = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&c, &buf, &size);
    c.image_width = w;
    c.image_height = h;
    c.input_components = components;
    c.in_color_space = space;
    jpeg_set_defaults(&c);  // writes an Adobe marker for CMYK
    jpeg_set_quality(&c, quality, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = const_cast<uint8_t*>(px.data()) + size_t(c.next_scanline) * w * components;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    save_bytes(name, std::vector<uint8_t>(buf, buf + size));
    std::free(buf);
}

// A progressive JPEG of `img`.
void write_progressive_jpeg(const std::string& name, const Image& img, int quality) {
    write_raw_jpeg(name, to_u8(img), img.width, img.height, img.channels,
                   img.channels == 1 ? JCS_GRAYSCALE : JCS_RGB, quality, true);
}

// cmyk.jpg: a flat 32x32 Adobe CMYK JPEG, stored (inverted, Photoshop-style) samples (255, 128, 64, 200),
// which read as RGB (200, 100.4, 50.2) / 255.
void write_cmyk_jpeg(const std::string& name) {
    const int w = 32, h = 32;
    std::vector<uint8_t> px;
    for (int i = 0; i < w * h; ++i) px.insert(px.end(), {255, 128, 64, 200});
    write_raw_jpeg(name, px, w, h, 4, JCS_CMYK, 95, false);
}

// A PNG through libpng directly: palette, low bit depths, interlacing.
struct RawPng {
    int width, height, bit_depth, color_type, interlace;
    std::vector<uint8_t> rows;  // packed rows, big-endian samples
    std::vector<png_color> palette;
    std::vector<uint8_t> trns;
};

void write_raw_png(const std::string& name, const RawPng& p) {
    FILE* f = std::fopen(out(name).c_str(), "wb");
    if (!f) throw scvae::Error(name + ": cannot create");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png_create_info_struct(png);
    png_init_io(png, f);
    png_set_IHDR(png, info, p.width, p.height, p.bit_depth, p.color_type, p.interlace, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (!p.palette.empty()) png_set_PLTE(png, info, p.palette.data(), static_cast<int>(p.palette.size()));
    if (!p.trns.empty()) png_set_tRNS(png, info, p.trns.data(), static_cast<int>(p.trns.size()), nullptr);
    png_write_info(png, info);
    size_t stride = p.rows.size() / p.height;
    std::vector<png_bytep> rows(p.height);
    for (int y = 0; y < p.height; ++y) rows[y] = const_cast<png_bytep>(p.rows.data() + y * stride);
    png_write_image(png, rows.data());
    png_write_end(png, nullptr);
    png_destroy_write_struct(&png, &info);
    std::fclose(f);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: make-test-images OUT_DIR PHOTO_A.jpg PHOTO_B.jpg\n");
        return 2;
    }
    try {
        out_dir = argv[1];
        Image a = scvae::read_image(argv[2]);
        Image b = scvae::read_image(argv[3]);
        scvae::WriteOptions png8;

        // gradient.png: 64x48 RGB 8 bit, pixel (x, y) = (4x, 5y, 2(x+y)) / 255.
        {
            Image g;
            g.width = 64;
            g.height = 48;
            g.channels = 3;
            g.data.resize(g.pixels() * 3);
            for (int y = 0; y < g.height; ++y)
                for (int x = 0; x < g.width; ++x) {
                    g.at(y, x, 0) = 4 * x / 255.0f;
                    g.at(y, x, 1) = 5 * y / 255.0f;
                    g.at(y, x, 2) = 2 * (x + y) / 255.0f;
                }
            scvae::write_image(out("gradient.png"), g, png8);
        }
        // gray16.png: 64x32 16-bit gray, value (x, y) = 1000 * y + 17 * x + 3 (not a multiple of 257).
        {
            Image g;
            g.width = 64;
            g.height = 32;
            g.channels = 1;
            g.bit_depth = 16;
            g.data.resize(g.pixels());
            for (int y = 0; y < g.height; ++y)
                for (int x = 0; x < g.width; ++x) g.at(y, x, 0) = (1000 * y + 17 * x + 3) / 65535.0f;
            scvae::WriteOptions o;
            o.png_bit_depth = 16;
            scvae::write_image(out("gray16.png"), g, o);
        }
        // Photo crops at 64x64.
        Image pa = photo_crop(a, 160, 20, 448, 448, 64, 64);
        Image pb = photo_crop(b, 200, 40, 384, 384, 64, 64);

        // rgba.png: photo crop with alpha = 4x / 255 (transparent left edge, opaque right).
        {
            Image r = scvae::to_channels(pa, 4);
            for (int y = 0; y < r.height; ++y)
                for (int x = 0; x < r.width; ++x) r.at(y, x, 3) = 4 * x / 255.0f;
            scvae::write_image(out("rgba.png"), r, png8);
        }
        // photo64.png: the same crop without alpha, lossless (reference for the JPEG fixtures).
        scvae::write_image(out("photo64.png"), pa, png8);
        // baseline.jpg, progressive.jpg, gray.jpg: the same crop.
        {
            scvae::WriteOptions o;
            o.jpeg_quality = 90;
            scvae::write_image(out("baseline.jpg"), pa, o);
            write_progressive_jpeg("progressive.jpg", pa, 90);
            scvae::write_image(out("gray.jpg"), scvae::to_channels(pb, 1), o);
            write_cmyk_jpeg("cmyk.jpg");
        }
        // palette.png: 32x32, 4-entry palette with transparency, index (x / 8 + y / 8) % 4.
        {
            RawPng p{32, 32, 8, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE, {}, {}, {}};
            p.palette = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 255}};
            p.trns = {255, 128, 0};  // index 3 stays opaque
            for (int y = 0; y < 32; ++y)
                for (int x = 0; x < 32; ++x) p.rows.push_back(static_cast<uint8_t>((x / 8 + y / 8) % 4));
            write_raw_png("palette.png", p);
        }
        // gray4.png: 16x16 4-bit gray, value (x + y) % 16 (reads as ((x + y) % 16) * 17 / 255).
        {
            RawPng p{16, 16, 4, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE, {}, {}, {}};
            for (int y = 0; y < 16; ++y)
                for (int x = 0; x < 16; x += 2)
                    p.rows.push_back(static_cast<uint8_t>((((x + y) % 16) << 4) | ((x + 1 + y) % 16)));
            write_raw_png("gray4.png", p);
        }
        // interlaced.png: 33x31 RGB 8-bit Adam7, pixel (x, y) = (7x, 8y, (x * y) % 256).
        {
            RawPng p{33, 31, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, {}, {}, {}};
            for (int y = 0; y < 31; ++y)
                for (int x = 0; x < 33; ++x) {
                    p.rows.push_back(static_cast<uint8_t>(7 * x));
                    p.rows.push_back(static_cast<uint8_t>(8 * y));
                    p.rows.push_back(static_cast<uint8_t>((x * y) % 256));
                }
            write_raw_png("interlaced.png", p);
        }
        // Larger natural photo crops for CLI tests.
        {
            scvae::WriteOptions o;
            o.jpeg_quality = 92;
            scvae::write_image(out("photo1.jpg"), photo_crop(a, 100, 0, 448, 448, 128, 128), o);
            scvae::write_image(out("photo2.png"), photo_crop(b, 0, 0, 384, 384, 96, 96), png8);
            scvae::write_image(out("photo3.jpg"), photo_crop(b, 300, 60, 384, 384, 128, 128), o);
        }
        // Bad files.
        {
            std::string text = "This is a plain text file, renamed to .png; it is not an image.\n";
            save_bytes("notimage.png", std::vector<uint8_t>(text.begin(), text.end()));
            save_bytes("empty.png", {});
            std::vector<uint8_t> p = scvae::read_file(out("photo64.png"));
            p.resize(p.size() / 2);
            save_bytes("truncated.png", p);
            std::vector<uint8_t> j = scvae::read_file(out("baseline.jpg"));
            j.resize(j.size() * 6 / 10);
            save_bytes("truncated.jpg", j);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "make-test-images: %s\n", e.what());
        return 1;
    }
    return 0;
}
