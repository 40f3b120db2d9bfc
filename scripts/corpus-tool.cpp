// corpus-tool - the image helper of scripts/build-corpus.sh (built by that script with the system compiler).
//
//   corpus-tool stats FILE...              one TSV line per file: path, format, width, height, flat, colours
//   corpus-tool convert IN OUT.png         decodes JPEG/PNG/WebP and writes a PNG (WebP sources)
//   corpus-tool sample IN OUT.jpg SIZE Q   centre square crop, area-average resize to SIZE, JPEG quality Q
//
// "flat" is the share of pixels whose right and lower neighbours differ by at most 1/255 in every channel, measured
// after shrinking the image to a short side of 256 px
// (flat areas: drawings, cartoons, graphics); "colours" counts distinct colours after quantising each channel
// to 5 bits. WebP is decoded through libwebp.so.7 loaded at run time (no headers needed).
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

struct JErr {
    jpeg_error_mgr pub;
    jmp_buf jb;
};
static void jerr_exit(j_common_ptr c) { longjmp(reinterpret_cast<JErr*>(c->err)->jb, 1); }

static bool decode(const char* path, Img& img) {
    std::vector<uint8_t> b = slurp(path);
    if (b.size() < 16) return false;
    if (b[0] == 0xFF && b[1] == 0xD8) {
        jpeg_decompress_struct c;
        JErr e;
        c.err = jpeg_std_error(&e.pub);
        e.pub.error_exit = jerr_exit;
        e.pub.output_message = [](j_common_ptr) {};
        if (setjmp(e.jb)) {
            jpeg_destroy_decompress(&c);
            return false;
        }
        jpeg_create_decompress(&c);
        jpeg_mem_src(&c, b.data(), b.size());
        jpeg_read_header(&c, TRUE);
        c.out_color_space = JCS_RGB;
        jpeg_start_decompress(&c);
        img.w = c.output_width;
        img.h = c.output_height;
        img.rgb.resize(size_t(img.w) * img.h * 3);
        while (c.output_scanline < c.output_height) {
            JSAMPROW row = img.rgb.data() + size_t(c.output_scanline) * img.w * 3;
            jpeg_read_scanlines(&c, &row, 1);
        }
        jpeg_finish_decompress(&c);
        jpeg_destroy_decompress(&c);
        img.fmt = "jpeg";
        return true;
    }
    if (memcmp(b.data(), "\x89PNG", 4) == 0) {
        png_image p;
        memset(&p, 0, sizeof p);
        p.version = PNG_IMAGE_VERSION;
        if (!png_image_begin_read_from_memory(&p, b.data(), b.size())) return false;
        p.format = PNG_FORMAT_RGB;
        img.w = p.width;
        img.h = p.height;
        img.rgb.resize(PNG_IMAGE_SIZE(p));
        png_color white{255, 255, 255};
        if (!png_image_finish_read(&p, &white, img.rgb.data(), 0, nullptr)) return false;
        img.fmt = "png";
        return true;
    }
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
    return false;
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

// Area-average so that the short side becomes short_side (no change when it is already smaller).
static Img shrink(const Img& in, int short_side) {
    int s = in.w < in.h ? in.w : in.h;
    if (s <= short_side) return in;
    Img out;
    out.w = int(int64_t(in.w) * short_side / s);
    out.h = int(int64_t(in.h) * short_side / s);
    out.rgb.resize(size_t(out.w) * out.h * 3);
    for (int y = 0; y < out.h; ++y)
        for (int x = 0; x < out.w; ++x) {
            int ya = int(int64_t(y) * in.h / out.h), yb = int(int64_t(y + 1) * in.h / out.h);
            int xa = int(int64_t(x) * in.w / out.w), xb = int(int64_t(x + 1) * in.w / out.w);
            if (yb <= ya) yb = ya + 1;
            if (xb <= xa) xb = xa + 1;
            for (int c = 0; c < 3; ++c) {
                double acc = 0;
                for (int yy = ya; yy < yb; ++yy)
                    for (int xx = xa; xx < xb; ++xx) acc += in.rgb[(size_t(yy) * in.w + xx) * 3 + c];
                out.rgb[(size_t(y) * out.w + x) * 3 + c] = uint8_t(acc / ((yb - ya) * (xb - xa)) + 0.5);
            }
        }
    return out;
}

// Centre square crop, then area-average down to size x size.
static Img sample(const Img& in, int size) {
    int s = in.w < in.h ? in.w : in.h;
    int x0 = (in.w - s) / 2, y0 = (in.h - s) / 2;
    Img out;
    out.w = out.h = size;
    out.rgb.resize(size_t(size) * size * 3);
    for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
            int ya = y0 + y * s / size, yb = y0 + (y + 1) * s / size;
            int xa = x0 + x * s / size, xb = x0 + (x + 1) * s / size;
            if (yb <= ya) yb = ya + 1;
            if (xb <= xa) xb = xa + 1;
            for (int c = 0; c < 3; ++c) {
                double acc = 0;
                for (int yy = ya; yy < yb; ++yy)
                    for (int xx = xa; xx < xb; ++xx) acc += in.rgb[(size_t(yy) * in.w + xx) * 3 + c];
                out.rgb[(size_t(y) * size + x) * 3 + c] = uint8_t(acc / ((yb - ya) * (xb - xa)) + 0.5);
            }
        }
    return out;
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
