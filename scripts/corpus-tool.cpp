// corpus-tool - the image helper of scripts/build-corpus.sh (built by that script with the system compiler and
// libscvae's image sources: scripts/corpus-tool.sh).
//
//   corpus-tool stats FILE...              one TSV line per file: path, format, width, height, flat, colours
//   corpus-tool convert IN OUT.png         decodes JPEG/PNG/WebP and writes a PNG (WebP sources)
//   corpus-tool sample IN OUT.jpg SIZE Q   centre square crop, area-average resize to SIZE, JPEG quality Q
//
// "flat" is the share of pixels whose right and lower neighbours differ by at most 1/255 in every channel, measured
// after shrinking the image to a short side of 256 px
// (flat areas: drawings, cartoons, graphics); "colours" counts distinct colours after quantising each channel
// to 5 bits. PNG and JPEG are read by libscvae; WebP through libwebp.so.7 loaded at run time (no headers needed).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <string>
#include <unordered_set>
#include <vector>

#include <jpeglib.h>
#include <png.h>

#include "scvae/image.h"

struct Img {
    int w = 0, h = 0;
    std::vector<uint8_t> rgb;
    std::string fmt;
};

static std::vector<uint8_t> slurp(const char* path) {
    std::vector<uint8_t> b;
    FILE* f = fopen(path, "rb");
    if (!f) return b;
    uint8_t tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0) b.insert(b.end(), tmp, tmp + n);
    fclose(f);
    return b;
}


// PNG, JPEG and netpbm through libscvae's reader (as the scvae tools read them: alpha composited over white,
// 16-bit samples rounded to 8 bits); WebP, which libscvae does not read, through libwebp.
static bool decode(const char* path, Img& img) {
    std::vector<uint8_t> b = slurp(path);
    if (b.size() < 16) return false;
    if (memcmp(b.data(), "RIFF", 4) == 0 && memcmp(b.data() + 8, "WEBP", 4) == 0) {
        static void* lib = dlopen("libwebp.so.7", RTLD_NOW);
        if (!lib) return false;
        using Dec = uint8_t* (*)(const uint8_t*, size_t, int*, int*);
        using Free = void (*)(void*);
        auto dec = reinterpret_cast<Dec>(dlsym(lib, "WebPDecodeRGB"));
        auto fr = reinterpret_cast<Free>(dlsym(lib, "WebPFree"));
        if (!dec || !fr) return false;
        uint8_t* px = dec(b.data(), b.size(), &img.w, &img.h);
        if (!px) return false;
        img.rgb.assign(px, px + size_t(img.w) * img.h * 3);
        fr(px);
        img.fmt = "webp";
        return true;
    }
    try {
        const scvae::ImageFormat f = scvae::sniff_image_format(b.data(), b.size());
        const scvae::Image rgb = scvae::to_channels(scvae::decode_image(b.data(), b.size(), path), 3);
        img.w = rgb.width;
        img.h = rgb.height;
        img.rgb.resize(rgb.data.size());
        for (size_t i = 0; i < rgb.data.size(); ++i)
            img.rgb[i] = uint8_t(std::lround(std::clamp(rgb.data[i], 0.0f, 1.0f) * 255.0f));
        img.fmt = f == scvae::ImageFormat::JPEG ? "jpeg" : f == scvae::ImageFormat::PNG ? "png" : "pnm";
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

static Img shrink(const Img& in, int short_side);

static void stats(const char* path) {
    Img full;
    if (!decode(path, full)) {
        printf("%s\tbad\t0\t0\t1\t0\n", path);
        return;
    }
    // Measured at a short side of 256 px, so large smooth photos and small ones read alike.
    Img img = shrink(full, 256);
    size_t flat = 0, total = 0;
    std::unordered_set<uint32_t> colours;
    for (int y = 0; y + 1 < img.h; ++y)
        for (int x = 0; x + 1 < img.w; ++x) {
            const uint8_t* p = &img.rgb[(size_t(y) * img.w + x) * 3];
            const uint8_t* r = p + 3;
            const uint8_t* d = p + size_t(img.w) * 3;
            bool f = true;
            for (int c = 0; c < 3; ++c)
                if (abs(p[c] - r[c]) > 1 || abs(p[c] - d[c]) > 1) f = false;
            flat += f;
            ++total;
            colours.insert((p[0] >> 3) << 10 | (p[1] >> 3) << 5 | (p[2] >> 3));
        }
    printf("%s\t%s\t%d\t%d\t%.4f\t%zu\n", path, full.fmt.c_str(), full.w, full.h,
           total ? double(flat) / total : 1.0, colours.size());
}

static int write_png(const Img& img, const char* out) {
    png_image p;
    memset(&p, 0, sizeof p);
    p.version = PNG_IMAGE_VERSION;
    p.width = img.w;
    p.height = img.h;
    p.format = PNG_FORMAT_RGB;
    return png_image_write_to_file(&p, out, 0, img.rgb.data(), 0, nullptr) ? 0 : 1;
}

static int write_jpeg(const Img& img, const char* out, int q) {
    FILE* f = fopen(out, "wb");
    if (!f) return 1;
    jpeg_compress_struct c;
    jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = img.w;
    c.image_height = img.h;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, q, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = const_cast<uint8_t*>(img.rgb.data()) + size_t(c.next_scanline) * img.w * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return fclose(f) == 0 ? 0 : 1;
}

// Area-average of the in.w x in.h region (x0, y0, sw, sh) down to out_w x out_h.
static Img area_average(const Img& in, int x0, int y0, int sw, int sh, int out_w, int out_h) {
    Img out;
    out.w = out_w;
    out.h = out_h;
    out.rgb.resize(size_t(out_w) * out_h * 3);
    for (int y = 0; y < out_h; ++y)
        for (int x = 0; x < out_w; ++x) {
            int ya = y0 + int(int64_t(y) * sh / out_h), yb = y0 + int(int64_t(y + 1) * sh / out_h);
            int xa = x0 + int(int64_t(x) * sw / out_w), xb = x0 + int(int64_t(x + 1) * sw / out_w);
            if (yb <= ya) yb = ya + 1;
            if (xb <= xa) xb = xa + 1;
            for (int c = 0; c < 3; ++c) {
                double acc = 0;
                for (int yy = ya; yy < yb; ++yy)
                    for (int xx = xa; xx < xb; ++xx) acc += in.rgb[(size_t(yy) * in.w + xx) * 3 + c];
                out.rgb[(size_t(y) * out_w + x) * 3 + c] = uint8_t(acc / ((yb - ya) * (xb - xa)) + 0.5);
            }
        }
    return out;
}

// Area-average so that the short side becomes short_side (no change when it is already smaller).
static Img shrink(const Img& in, int short_side) {
    int s = in.w < in.h ? in.w : in.h;
    if (s <= short_side) return in;
    return area_average(in, 0, 0, in.w, in.h, int(int64_t(in.w) * short_side / s), int(int64_t(in.h) * short_side / s));
}

// Centre square crop, then area-average down to size x size.
static Img sample(const Img& in, int size) {
    int s = in.w < in.h ? in.w : in.h;
    return area_average(in, (in.w - s) / 2, (in.h - s) / 2, s, s, size, size);
}

int main(int argc, char** argv) {
    if (argc >= 3 && !strcmp(argv[1], "stats")) {
        for (int i = 2; i < argc; ++i) stats(argv[i]);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "convert")) {
        Img img;
        if (!decode(argv[2], img)) return fprintf(stderr, "corpus-tool: %s: cannot decode\n", argv[2]), 1;
        return write_png(img, argv[3]);
    }
    if (argc == 6 && !strcmp(argv[1], "sample")) {
        Img img;
        if (!decode(argv[2], img)) return fprintf(stderr, "corpus-tool: %s: cannot decode\n", argv[2]), 1;
        return write_jpeg(sample(img, atoi(argv[4])), argv[3], atoi(argv[5]));
    }
    if (argc >= 4 && !strcmp(argv[1], "montage")) {  // montage OUT.png FILE...: 96 px thumbnails, 8 a row
        const int t = 96, cols = 8, n = argc - 3;
        Img sheet;
        sheet.w = cols * t;
        sheet.h = ((n + cols - 1) / cols) * t;
        sheet.rgb.assign(size_t(sheet.w) * sheet.h * 3, 0);
        for (int i = 0; i < n; ++i) {
            Img img;
            if (!decode(argv[3 + i], img)) continue;
            Img s = sample(img, t);
            for (int y = 0; y < t; ++y)
                memcpy(&sheet.rgb[((size_t(i / cols) * t + y) * sheet.w + (i % cols) * t) * 3], &s.rgb[size_t(y) * t * 3], t * 3);
        }
        return write_png(sheet, argv[2]);
    }
    fprintf(stderr, "usage: corpus-tool stats FILE... | convert IN OUT.png | sample IN OUT.jpg SIZE QUALITY\n");
    return 2;
}
