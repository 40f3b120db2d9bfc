// image.cpp - PNG (libpng) and JPEG (libjpeg-turbo) reading and writing, and small pixel conversions.
//
// libpng and libjpeg report errors by longjmp. Every setjmp lives in a small "stage" function below whose
// locals are plain C data: no object with a destructor is ever skipped by a longjmp. The library handles
// (png_struct, jpeg_*_struct) and every buffer are owned by guards in the calling C++ function, which runs
// after the stage returned normally, so cleanup always happens by ordinary C++ unwinding.

#include "scvae/image.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <sys/stat.h>

#include "image/pnm.h"
#include "scvae/error.h"
#include "scvae/io.h"

namespace scvae {
namespace {

// ------------------------------------------------------------------------------------------------
// Small helpers

// out[i] = in[i] / 255.0f, bit-exact with the scalar division; SSE2 does 16 values per step.
void u8_to_float(const uint8_t* __restrict in, float* __restrict out, size_t n) {
    size_t i = 0;
#ifdef __SSE2__
    const __m128 k255 = _mm_set1_ps(255.0f);
    const __m128i zero = _mm_setzero_si128();
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
        __m128i lo = _mm_unpacklo_epi8(v, zero), hi = _mm_unpackhi_epi8(v, zero);
        _mm_storeu_ps(out + i, _mm_div_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(lo, zero)), k255));
        _mm_storeu_ps(out + i + 4, _mm_div_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(lo, zero)), k255));
        _mm_storeu_ps(out + i + 8, _mm_div_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi16(hi, zero)), k255));
        _mm_storeu_ps(out + i + 12, _mm_div_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi16(hi, zero)), k255));
    }
#endif
    for (; i < n; ++i) out[i] = static_cast<float>(in[i]) / 255.0f;
}

inline uint8_t to_u8(float v) {
    // NaN compares false both ways and ends up 0.
    float s = v * 255.0f + 0.5f;
    if (!(s > 0.0f)) return 0;
    if (s >= 255.0f) return 255;
    return static_cast<uint8_t>(s);
}

inline uint16_t to_u16(float v) {
    float s = v * 65535.0f + 0.5f;
    if (!(s > 0.0f)) return 0;
    if (s >= 65535.0f) return 65535;
    return static_cast<uint16_t>(s);
}

bool host_little_endian() {
    const uint16_t one = 1;
    uint8_t first;
    std::memcpy(&first, &one, 1);
    return first == 1;
}

std::string too_large_reason(uint64_t w, uint64_t h, uint64_t limit) {
    return "image too large (" + std::to_string(w) + "x" + std::to_string(h) + " pixels, limit " +
           std::to_string(limit) + ")";
}

void check_size(const std::string& name, uint64_t w, uint64_t h, const ImageLimits& limits) {
    if (w == 0 || h == 0) throw error_at(name, "invalid image size (" + std::to_string(w) + "x" + std::to_string(h) + ")");
    if (w > 0x7fffffffULL || h > 0x7fffffffULL || w * h > limits.max_pixels)
        throw error_at(name, too_large_reason(w, h, limits.max_pixels));
}

void check_image(const Image& img, const char* what) {
    if (img.width <= 0 || img.height <= 0 || img.channels < 1 || img.channels > 4 ||
        img.data.size() != img.pixels() * static_cast<size_t>(img.channels))
        throw Error(std::string(what) + ": invalid image (" + std::to_string(img.width) + "x" +
                    std::to_string(img.height) + "x" + std::to_string(img.channels) + ", " +
                    std::to_string(img.data.size()) + " values)");
}

// ------------------------------------------------------------------------------------------------
// PNG reading

// libpng's error pointer of a read or a write: where its message goes before the longjmp.
struct PngMessage {
    char msg[256];
};

extern "C" void png_error_cb(png_structp png, png_const_charp msg) {
    auto* m = static_cast<PngMessage*>(png_get_error_ptr(png));
    std::snprintf(m->msg, sizeof m->msg, "%s", msg ? msg : "unknown error");
    png_longjmp(png, 1);
}

struct PngCtx : PngMessage {
    const uint8_t* data;
    size_t size;
    size_t pos;
};

extern "C" void png_warning_cb(png_structp, png_const_charp) {}

extern "C" void png_read_cb(png_structp png, png_bytep out, size_t n) {
    auto* ctx = static_cast<PngCtx*>(png_get_io_ptr(png));
    if (ctx->size - ctx->pos < n) png_error(png, "unexpected end of file");
    std::memcpy(out, ctx->data + ctx->pos, n);
    ctx->pos += n;
}

struct PngHeader {
    png_uint_32 width, height;
    int src_depth;   // 1, 2, 4, 8, 16
    int depth;       // after transforms: 8 or 16
    int channels;    // after transforms
    int interlaced;
    size_t rowbytes;
};

struct PngReadGuard {
    png_structp png = nullptr;
    png_infop info = nullptr;
    ~PngReadGuard() {
        if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
    }
};

// Stage 1: header and transforms. Plain C data only between setjmp and return.
bool png_stage_header(png_structp png, png_infop info, PngHeader* h) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_set_user_limits(png, 0x7fffffffU, 0x7fffffffU);
    png_read_info(png, info);
    int color_type = 0, interlace = 0;
    png_get_IHDR(png, info, &h->width, &h->height, &h->src_depth, &color_type, &interlace, nullptr, nullptr);
    h->interlaced = interlace != PNG_INTERLACE_NONE;
    // Palette -> RGB, gray < 8 bit -> 8 bit, tRNS -> alpha channel.
    png_set_expand(png);
    if (h->src_depth == 16 && host_little_endian()) png_set_swap(png);  // PNG is big-endian: native uint16
    if (h->interlaced) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    h->depth = png_get_bit_depth(png, info);
    h->channels = png_get_channels(png, info);
    h->rowbytes = png_get_rowbytes(png, info);
    return true;
}

void png_convert_row(const uint8_t* row, float* dst, size_t n, int depth) {
    if (depth == 16) {
        for (size_t i = 0; i < n; ++i) {
            uint16_t v;
            std::memcpy(&v, row + 2 * i, 2);
            dst[i] = static_cast<float>(v) / 65535.0f;  // divided, not multiplied: v / 65535.0f exactly
        }
    } else {
        u8_to_float(row, dst, n);
    }
}

// Stage 2 (not interlaced): rows one by one into `rowbuf`, converted straight into `dst`.
bool png_stage_rows(png_structp png, const PngHeader* h, uint8_t* rowbuf, float* dst) {
    if (setjmp(png_jmpbuf(png))) return false;
    const size_t n = static_cast<size_t>(h->width) * h->channels;
    for (png_uint_32 y = 0; y < h->height; ++y) {
        png_read_row(png, rowbuf, nullptr);
        png_convert_row(rowbuf, dst + y * n, n, h->depth);
    }
    return true;
}

// Stage 2 (interlaced): the whole image into `buf` (rows[] point into it).
bool png_stage_image(png_structp png, png_bytepp rows) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_read_image(png, rows);
    return true;
}

// Stage 3: the chunks after the image data. A file cut after its last IDAT is still a complete image,
// so a failure here is ignored.
bool png_stage_end(png_structp png) {
    if (setjmp(png_jmpbuf(png))) return false;
    png_read_end(png, nullptr);
    return true;
}

Image decode_png(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits) {
    const std::string corrupt = "truncated or corrupt PNG file (";
    // Check the claimed size from the IHDR chunk before libpng reads anything else.
    if (size >= 24 && std::memcmp(data + 12, "IHDR", 4) == 0) {
        auto be32 = [&](size_t o) {
            return (uint32_t(data[o]) << 24) | (uint32_t(data[o + 1]) << 16) | (uint32_t(data[o + 2]) << 8) |
                   uint32_t(data[o + 3]);
        };
        uint64_t w = be32(16), h = be32(20);
        if (w > 0 && h > 0 && (w > 0x7fffffffULL || h > 0x7fffffffULL || w * h > limits.max_pixels))
            throw error_at(name, too_large_reason(w, h, limits.max_pixels));
    }
    PngCtx ctx{{}, data, size, 0};
    PngReadGuard g;
    g.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, static_cast<PngMessage*>(&ctx), png_error_cb, png_warning_cb);
    if (!g.png) throw error_at(name, "cannot initialise libpng");
    g.info = png_create_info_struct(g.png);
    if (!g.info) throw error_at(name, "cannot initialise libpng");
    png_set_read_fn(g.png, &ctx, png_read_cb);

    PngHeader h{};
    if (!png_stage_header(g.png, g.info, &h)) throw error_at(name, corrupt + ctx.msg + ")");
    check_size(name, h.width, h.height, limits);
    if ((h.depth != 8 && h.depth != 16) || h.channels < 1 || h.channels > 4)
        throw error_at(name, "unsupported PNG layout (" + std::to_string(h.channels) + " channels, " +
                                 std::to_string(h.depth) + " bit)");

    Image img;
    img.width = static_cast<int>(h.width);
    img.height = static_cast<int>(h.height);
    img.channels = h.channels;
    img.bit_depth = h.src_depth == 16 ? 16 : 8;
    img.data.resize(img.pixels() * img.channels);

    if (!h.interlaced) {
        std::vector<uint8_t> row(h.rowbytes + 16);
        if (!png_stage_rows(g.png, &h, row.data(), img.data.data())) throw error_at(name, corrupt + ctx.msg + ")");
    } else {
        std::vector<uint8_t> buf(h.rowbytes * h.height);
        std::vector<png_bytep> rows(h.height);
        for (png_uint_32 y = 0; y < h.height; ++y) rows[y] = buf.data() + y * h.rowbytes;
        if (!png_stage_image(g.png, rows.data())) throw error_at(name, corrupt + ctx.msg + ")");
        const size_t n = static_cast<size_t>(h.width) * h.channels;
        for (png_uint_32 y = 0; y < h.height; ++y) png_convert_row(rows[y], img.data.data() + y * n, n, h.depth);
    }
    png_stage_end(g.png);
    return img;
}

// ------------------------------------------------------------------------------------------------
// JPEG reading

struct JpegErr {
    jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    // A single-scan (baseline) file that ends early makes the Huffman decoder run into the fake end marker
    // (JWRN_HIT_MARKER), so its end-of-file warning can wait: if the decoder never runs short, only the
    // end-of-image marker was missing and every pixel is there. A multi-scan (progressive) file cut between
    // scans gives no such sign, so there the end-of-file warning is fatal at once.
    int single_scan;
    int eof_seen;
};

extern "C" void jpeg_error_exit_cb(j_common_ptr c) {
    auto* e = reinterpret_cast<JpegErr*>(c->err);
    (*c->err->format_message)(c, e->msg);
    std::longjmp(e->jb, 1);
}

// Warnings that mean the pixels are damaged (a truncated file gets grey padding otherwise) are errors;
// harmless ones (extraneous bytes, unknown markers) are ignored quietly.
extern "C" void jpeg_emit_message_cb(j_common_ptr c, int level) {
    if (level >= 0) return;  // trace messages
    const int code = c->err->msg_code;
    auto* e = reinterpret_cast<JpegErr*>(c->err);
    if (code == JWRN_JPEG_EOF) {
        (*c->err->format_message)(c, e->msg);
        e->eof_seen = 1;
        if (!e->single_scan) std::longjmp(e->jb, 1);
        return;
    }
    if (code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE) {
        if (!e->eof_seen) (*c->err->format_message)(c, e->msg);  // else keep "Premature end of JPEG file"
        std::longjmp(e->jb, 1);
    }
    c->err->num_warnings++;
}

// The error manager of a (de)compressor: errors longjmp to e.jb with their message in e.msg.
jpeg_error_mgr* install_jpeg_errors(JpegErr& e) {
    jpeg_error_mgr* mgr = jpeg_std_error(&e.pub);
    e.pub.error_exit = jpeg_error_exit_cb;
    e.pub.emit_message = jpeg_emit_message_cb;
    e.msg[0] = 0;
    e.single_scan = 0;
    e.eof_seen = 0;
    return mgr;
}

struct JpegDecGuard {
    jpeg_decompress_struct cinfo;
    JpegErr err;
    bool created = false;
    ~JpegDecGuard() {
        if (created) jpeg_destroy_decompress(&cinfo);
    }
};

bool jpeg_stage_header(JpegDecGuard* g, const uint8_t* data, size_t size) {
    j_decompress_ptr cinfo = &g->cinfo;
    cinfo->err = install_jpeg_errors(g->err);
    if (setjmp(g->err.jb)) return false;
    jpeg_create_decompress(cinfo);
    g->created = true;
    jpeg_mem_src(cinfo, data, static_cast<unsigned long>(size));
    jpeg_read_header(cinfo, TRUE);
    return true;
}

// CMYK/YCCK files come out as CMYK; Adobe writes them inverted (0 = full ink).
void cmyk_to_rgb_row(const uint8_t* in, float* out, size_t width, bool inverted) {
    const float k255 = 1.0f / (255.0f * 255.0f);
    for (size_t x = 0; x < width; ++x, in += 4, out += 3) {
        int c = in[0], m = in[1], y = in[2], k = in[3];
        if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
        out[0] = static_cast<float>(c * k) * k255;
        out[1] = static_cast<float>(m * k) * k255;
        out[2] = static_cast<float>(y * k) * k255;
    }
}

// `rowbuf` holds `nrows` rows of width*out_components bytes; `dst` width*height*channels floats.
bool jpeg_stage_decode(JpegDecGuard* g, uint8_t* rowbuf, int nrows, float* dst, int channels) {
    j_decompress_ptr cinfo = &g->cinfo;
    if (nrows > 16) nrows = 16;
    if (setjmp(g->err.jb)) return false;
    g->err.single_scan = !jpeg_has_multiple_scans(cinfo);
    jpeg_start_decompress(cinfo);
    const size_t in_stride = static_cast<size_t>(cinfo->output_width) * cinfo->output_components;
    const size_t out_stride = static_cast<size_t>(cinfo->output_width) * channels;
    const bool cmyk = cinfo->out_color_space == JCS_CMYK;
    const bool inverted = cinfo->saw_Adobe_marker;
    JSAMPROW rows[16];
    for (int i = 0; i < nrows; ++i) rows[i] = rowbuf + i * in_stride;
    while (cinfo->output_scanline < cinfo->output_height) {
        JDIMENSION y0 = cinfo->output_scanline;
        JDIMENSION got = jpeg_read_scanlines(cinfo, rows, static_cast<JDIMENSION>(nrows));
        for (JDIMENSION i = 0; i < got; ++i) {
            float* out = dst + (y0 + i) * out_stride;
            const uint8_t* in = rows[i];
            if (cmyk) {
                cmyk_to_rgb_row(in, out, cinfo->output_width, inverted);
            } else {
                u8_to_float(in, out, in_stride);
            }
        }
    }
    jpeg_finish_decompress(cinfo);
    return true;
}

Image decode_jpeg(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits) {
    const std::string corrupt = "truncated or corrupt JPEG file (";
    JpegDecGuard g;
    std::memset(&g.cinfo, 0, sizeof g.cinfo);
    if (!jpeg_stage_header(&g, data, size)) throw error_at(name, corrupt + g.err.msg + ")");
    check_size(name, g.cinfo.image_width, g.cinfo.image_height, limits);

    int channels = 3;
    switch (g.cinfo.jpeg_color_space) {
        case JCS_GRAYSCALE:
            g.cinfo.out_color_space = JCS_GRAYSCALE;
            channels = 1;
            break;
        case JCS_CMYK:
        case JCS_YCCK:
            g.cinfo.out_color_space = JCS_CMYK;
            break;
        default:
            g.cinfo.out_color_space = JCS_RGB;
            break;
    }
    g.cinfo.dct_method = JDCT_ISLOW;
    const int in_comp = g.cinfo.out_color_space == JCS_CMYK ? 4 : channels;

    Image img;
    img.width = static_cast<int>(g.cinfo.image_width);
    img.height = static_cast<int>(g.cinfo.image_height);
    img.channels = channels;
    img.bit_depth = 8;
    img.data.resize(img.pixels() * channels);
    const int nrows = 8;
    std::vector<uint8_t> rowbuf(static_cast<size_t>(img.width) * in_comp * nrows);
    if (!jpeg_stage_decode(&g, rowbuf.data(), nrows, img.data.data(), channels))
        throw error_at(name, corrupt + g.err.msg + ")");
    return img;
}

// ------------------------------------------------------------------------------------------------
// PNG writing

struct MemOut : PngMessage {
    uint8_t* p;
    size_t size;
    size_t cap;
};

extern "C" void png_write_cb(png_structp png, png_bytep data, size_t n) {
    auto* out = static_cast<MemOut*>(png_get_io_ptr(png));
    if (out->cap - out->size < n) {
        size_t cap = std::max(out->cap * 2, out->size + n + 4096);
        auto* p = static_cast<uint8_t*>(std::realloc(out->p, cap));
        if (!p) png_error(png, "out of memory");
        out->p = p;
        out->cap = cap;
    }
    std::memcpy(out->p + out->size, data, n);
    out->size += n;
}

extern "C" void png_flush_cb(png_structp) {}

struct PngWriteGuard {
    png_structp png = nullptr;
    png_infop info = nullptr;
    MemOut out{{}, nullptr, 0, 0};
    ~PngWriteGuard() {
        if (png) png_destroy_write_struct(&png, info ? &info : nullptr);
        std::free(out.p);
    }
};

bool png_stage_write(png_structp png, png_infop info, const uint8_t* pixels, int w, int h, int ch, int depth,
                     const png_color* palette, int palette_size) {
    if (setjmp(png_jmpbuf(png))) return false;
    static const int types[] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                PNG_COLOR_TYPE_RGB_ALPHA};
    png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), depth,
                 palette ? PNG_COLOR_TYPE_PALETTE : types[ch], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (palette) png_set_PLTE(png, info, palette, palette_size);
    png_write_info(png, info);
    if (depth == 16 && host_little_endian()) png_set_swap(png);
    const size_t stride = static_cast<size_t>(w) * ch * (depth / 8);
    for (int y = 0; y < h; ++y) png_write_row(png, const_cast<png_bytep>(pixels + y * stride));
    png_write_end(png, nullptr);
    return true;
}

std::vector<uint8_t> encode_png(const Image& img, const WriteOptions& opt) {
    const bool indexed = !opt.png_palette.empty() && img.channels == 1;
    const int depth = indexed ? 8 : opt.png_bit_depth;
    std::vector<png_color> palette;
    if (indexed) {
        if (opt.png_palette.size() % 3 || opt.png_palette.size() > 3 * 256)
            throw Error("PNG palette: expected at most 256 RGB triplets");
        for (size_t i = 0; i < opt.png_palette.size(); i += 3)
            palette.push_back({opt.png_palette[i], opt.png_palette[i + 1], opt.png_palette[i + 2]});
    }
    const size_t n = img.data.size();
    std::vector<uint8_t> pixels(n * (depth / 8));
    if (depth == 16) {
        auto* p = pixels.data();
        for (size_t i = 0; i < n; ++i) {
            uint16_t v = to_u16(img.data[i]);
            std::memcpy(p + 2 * i, &v, 2);
        }
    } else {
        for (size_t i = 0; i < n; ++i) pixels[i] = to_u8(img.data[i]);
        if (indexed)
            for (size_t i = 0; i < n; ++i)
                if (pixels[i] >= palette.size())
                    throw Error("palette PNG: index " + std::to_string(pixels[i]) + " beyond the " +
                                std::to_string(palette.size()) + " palette entries");
    }
    PngWriteGuard g;
    g.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, static_cast<PngMessage*>(&g.out), png_error_cb, png_warning_cb);
    if (!g.png) throw Error("cannot initialise libpng");
    g.info = png_create_info_struct(g.png);
    if (!g.info) throw Error("cannot initialise libpng");
    png_set_write_fn(g.png, &g.out, png_write_cb, png_flush_cb);
    if (!png_stage_write(g.png, g.info, pixels.data(), img.width, img.height, img.channels, depth,
                         indexed ? palette.data() : nullptr, static_cast<int>(palette.size())))
        throw Error(std::string("cannot encode PNG (") + g.out.msg + ")");
    return std::vector<uint8_t>(g.out.p, g.out.p + g.out.size);
}

// ------------------------------------------------------------------------------------------------
// JPEG writing

struct JpegEncGuard {
    jpeg_compress_struct cinfo;
    JpegErr err;
    bool created = false;
    unsigned char* buf = nullptr;
    unsigned long size = 0;
    ~JpegEncGuard() {
        if (created) jpeg_destroy_compress(&cinfo);
        std::free(buf);
    }
};

bool jpeg_stage_encode(JpegEncGuard* g, const uint8_t* pixels, int w, int h, int comps, int quality) {
    j_compress_ptr cinfo = &g->cinfo;
    cinfo->err = install_jpeg_errors(g->err);
    if (setjmp(g->err.jb)) return false;
    jpeg_create_compress(cinfo);
    g->created = true;
    jpeg_mem_dest(cinfo, &g->buf, &g->size);
    cinfo->image_width = static_cast<JDIMENSION>(w);
    cinfo->image_height = static_cast<JDIMENSION>(h);
    cinfo->input_components = comps;
    cinfo->in_color_space = comps == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, quality, TRUE);
    if (comps == 3 && quality >= 90) {
        // No chroma subsampling at high quality (4:4:4), as reconstructions are compared pixel by pixel.
        for (int i = 0; i < 3; ++i) cinfo->comp_info[i].h_samp_factor = cinfo->comp_info[i].v_samp_factor = 1;
    }
    jpeg_start_compress(cinfo, TRUE);
    const size_t stride = static_cast<size_t>(w) * comps;
    while (cinfo->next_scanline < cinfo->image_height) {
        JSAMPROW row = const_cast<JSAMPROW>(pixels + cinfo->next_scanline * stride);
        jpeg_write_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_compress(cinfo);
    return true;
}

std::vector<uint8_t> encode_jpeg(const Image& img, const WriteOptions& opt) {
    const int comps = img.channels <= 2 ? 1 : 3;
    const size_t np = img.pixels();
    std::vector<uint8_t> pixels(np * comps);
    if (comps == img.channels) {
        for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = to_u8(img.data[i]);
    } else {  // drop alpha
        const int ch = img.channels;
        for (size_t i = 0; i < np; ++i)
            for (int c = 0; c < comps; ++c) pixels[i * comps + c] = to_u8(img.data[i * ch + c]);
    }
    JpegEncGuard g;
    std::memset(&g.cinfo, 0, sizeof g.cinfo);
    if (!jpeg_stage_encode(&g, pixels.data(), img.width, img.height, comps, opt.jpeg_quality))
        throw Error(std::string("cannot encode JPEG (") + g.err.msg + ")");
    return std::vector<uint8_t>(g.buf, g.buf + g.size);
}

// ------------------------------------------------------------------------------------------------
// Files

std::vector<uint8_t> read_all(const std::string& path, const std::string& name) {
    FILE* f = stdin;
    if (path != "-") {
        f = std::fopen(path.c_str(), "rb");
        if (!f) throw error_at(name, std::string("cannot open: ") + std::strerror(errno));
    }
    std::vector<uint8_t> buf;
    // Regular files: size the buffer once (one byte spare to see the end); pipes grow it.
    struct stat st;
    if (fstat(fileno(f), &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            if (f != stdin) std::fclose(f);
            throw error_at(name, std::string("read error: ") + std::strerror(EISDIR));
        }
        if (S_ISREG(st.st_mode) && st.st_size > 0) buf.resize(static_cast<size_t>(st.st_size) + 1);
    }
    size_t len = 0;
    int err = 0;
    for (;;) {
        if (len == buf.size()) buf.resize(std::max<size_t>(65536, buf.size() * 2));
        size_t got = std::fread(buf.data() + len, 1, buf.size() - len, f);
        len += got;
        if (got == 0) {
            if (std::ferror(f)) err = errno ? errno : EIO;
            break;
        }
    }
    if (f != stdin) std::fclose(f);
    else std::clearerr(stdin);
    if (err) throw error_at(name, std::string("read error: ") + std::strerror(err));
    buf.resize(len);
    return buf;
}

std::string lower_extension(const std::string& path) {
    size_t slash = path.find_last_of('/');
    size_t dot = path.find_last_of('.');
    if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
    std::string ext = path.substr(dot);
    for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return ext;
}

// ------------------------------------------------------------------------------------------------
// Resizing

struct Tap {
    int i0, i1;
    float w1;  // weight of i1; i0 gets 1 - w1
};

// align_corners=false: source coordinate (dst + 0.5) * src/dst - 0.5, clamped at the borders (as torch).
std::vector<Tap> bilinear_taps(int src, int dst) {
    std::vector<Tap> taps(dst);
    const double scale = static_cast<double>(src) / dst;
    for (int i = 0; i < dst; ++i) {
        double s = (i + 0.5) * scale - 0.5;
        if (s < 0) s = 0;
        int i0 = static_cast<int>(s);
        if (i0 > src - 1) i0 = src - 1;
        int i1 = std::min(i0 + 1, src - 1);
        float w1 = static_cast<float>(s - i0);
        if (i1 == i0) w1 = 0.0f;
        taps[i] = {i0, i1, w1};
    }
    return taps;
}

template <int C>
void bilinear_rows(const Image& src, Image& dst, const std::vector<Tap>& xt, const std::vector<Tap>& yt, int cdyn) {
    const int ch = C > 0 ? C : cdyn;
    const size_t sstride = static_cast<size_t>(src.width) * ch;
    const size_t dstride = static_cast<size_t>(dst.width) * ch;
    for (int y = 0; y < dst.height; ++y) {
        const float* r0 = src.data.data() + yt[y].i0 * sstride;
        const float* r1 = src.data.data() + yt[y].i1 * sstride;
        const float wy1 = yt[y].w1, wy0 = 1.0f - wy1;
        float* out = dst.data.data() + y * dstride;
        for (int x = 0; x < dst.width; ++x) {
            const Tap& t = xt[x];
            const float wx1 = t.w1, wx0 = 1.0f - wx1;
            const float* a = r0 + static_cast<size_t>(t.i0) * ch;
            const float* b = r0 + static_cast<size_t>(t.i1) * ch;
            const float* c = r1 + static_cast<size_t>(t.i0) * ch;
            const float* d = r1 + static_cast<size_t>(t.i1) * ch;
            for (int k = 0; k < ch; ++k)
                out[k] = wy0 * (wx0 * a[k] + wx1 * b[k]) + wy1 * (wx0 * c[k] + wx1 * d[k]);
            out += ch;
        }
    }
}

void check_resize(const Image& img, int width, int height, const char* what) {
    check_image(img, what);
    if (width <= 0 || height <= 0)
        throw Error(std::string(what) + ": invalid size " + std::to_string(width) + "x" + std::to_string(height));
}

}  // namespace

// ------------------------------------------------------------------------------------------------
// Public API

ImageFormat sniff_image_format(const uint8_t* data, size_t size) {
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    if (data && size >= 8 && std::memcmp(data, png_sig, 8) == 0) return ImageFormat::PNG;
    if (data && size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff) return ImageFormat::JPEG;
    if (is_pnm_magic(data, size)) return ImageFormat::PNM;
    return ImageFormat::Unknown;
}

ImageFormat image_format_from_name(const std::string& path) {
    std::string ext = lower_extension(path);
    if (ext == ".png") return ImageFormat::PNG;
    if (ext == ".jpg" || ext == ".jpeg") return ImageFormat::JPEG;
    if (ext == ".ppm" || ext == ".pgm" || ext == ".pbm" || ext == ".pnm" || ext == ".pam") return ImageFormat::PNM;
    return ImageFormat::Unknown;
}

std::string unknown_extension_message(const std::string& path) {
    return path + ": unknown image extension (use .png, .jpg, .jpeg, .ppm, .pgm, .pnm or .pam)";
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits) {
    if (size == 0) throw error_at(name, "empty file");
    switch (sniff_image_format(data, size)) {
        case ImageFormat::PNG: return decode_png(data, size, name, limits);
        case ImageFormat::JPEG: return decode_jpeg(data, size, name, limits);
        case ImageFormat::PNM: return decode_pnm(data, size, name, limits);
        default: throw error_at(name, "not a PNG, JPEG or netpbm file");
    }
}

Image read_image(const std::string& path, const ImageLimits& limits) {
    const std::string name = display_name(path);
    std::vector<uint8_t> bytes = read_all(path, name);
    return decode_image(bytes.data(), bytes.size(), name, limits);
}

std::vector<uint8_t> encode_image(const Image& img, ImageFormat fmt, const WriteOptions& opt) {
    check_image(img, "encode");
    if (fmt == ImageFormat::PNG) {
        if (opt.png_bit_depth != 8 && opt.png_bit_depth != 16)
            throw InvalidArgument("PNG bit depth must be 8 or 16, not " + std::to_string(opt.png_bit_depth));
        return encode_png(img, opt);
    }
    if (fmt == ImageFormat::JPEG) {
        if (opt.jpeg_quality < 1 || opt.jpeg_quality > 100)
            throw InvalidArgument("JPEG quality must be 1 to 100, not " + std::to_string(opt.jpeg_quality));
        return encode_jpeg(img, opt);
    }
    if (fmt == ImageFormat::PNM) {
        if (opt.png_bit_depth != 8 && opt.png_bit_depth != 16)
            throw InvalidArgument("netpbm bit depth must be 8 or 16, not " + std::to_string(opt.png_bit_depth));
        return encode_pnm(img, false, opt.png_bit_depth);
    }
    throw InvalidArgument("unknown image format (use PNG, JPEG or netpbm)");
}

std::vector<uint8_t> encode_pam(const Image& img, const WriteOptions& opt) {
    check_image(img, "encode");
    if (opt.png_bit_depth != 8 && opt.png_bit_depth != 16)
        throw InvalidArgument("netpbm bit depth must be 8 or 16, not " + std::to_string(opt.png_bit_depth));
    return encode_pnm(img, true, opt.png_bit_depth);
}

void write_image(const std::string& path, const Image& img, const WriteOptions& opt, ImageFormat fmt_for_stdout) {
    ImageFormat fmt = fmt_for_stdout;
    if (path != "-") {
        fmt = image_format_from_name(path);
        if (fmt == ImageFormat::Unknown || lower_extension(path) == ".pbm") throw InvalidArgument(unknown_extension_message(path));
    } else if (is_terminal(1)) {
        throw InvalidArgument("refusing to write an image to a terminal; use -o FILE or a pipe");
    }
    std::vector<uint8_t> bytes;
    try {
        bytes = path != "-" && lower_extension(path) == ".pam" ? encode_pam(img, opt) : encode_image(img, fmt, opt);
    } catch (const InvalidArgument& e) {
        throw InvalidArgument(display_name(path, true) + ": " + e.what());
    } catch (const Error& e) {
        throw error_at(display_name(path, true), e.what());
    }
    AtomicOutput out(path);
    out.write(bytes.data(), bytes.size());
    out.commit();
}

Image to_rgb(const Image& img) {
    check_image(img, "to_rgb");
    if (img.channels == 3) return img;
    Image out;
    out.width = img.width;
    out.height = img.height;
    out.channels = 3;
    out.bit_depth = img.bit_depth;
    const size_t n = img.pixels();
    out.data.resize(n * 3);
    const float* s = img.data.data();
    float* d = out.data.data();
    switch (img.channels) {
        case 1:
            for (size_t i = 0; i < n; ++i, d += 3) d[0] = d[1] = d[2] = s[i];
            break;
        case 2:
            for (size_t i = 0; i < n; ++i, s += 2, d += 3) d[0] = d[1] = d[2] = s[0] * s[1] + (1.0f - s[1]);
            break;
        case 4:
            for (size_t i = 0; i < n; ++i, s += 4, d += 3) {
                const float a = s[3], w = 1.0f - a;
                d[0] = s[0] * a + w;
                d[1] = s[1] * a + w;
                d[2] = s[2] * a + w;
            }
            break;
    }
    return out;
}

Image to_channels(const Image& src, int channels) {
    check_image(src, "to_channels");
    if (channels < 1 || channels > 4) throw Error("to_channels: invalid channel count " + std::to_string(channels));
    if (channels == src.channels) return src;
    Image out;
    out.width = src.width;
    out.height = src.height;
    out.channels = channels;
    out.bit_depth = src.bit_depth;
    const size_t n = src.pixels();
    out.data.resize(n * channels);
    const int sc = src.channels;
    const bool src_alpha = sc == 2 || sc == 4, dst_alpha = channels == 2 || channels == 4;
    const bool src_rgb = sc >= 3, dst_rgb = channels >= 3;
    const float* s = src.data.data();
    float* d = out.data.data();
    for (size_t i = 0; i < n; ++i, s += sc, d += channels) {
        float a = src_alpha ? s[sc - 1] : 1.0f;
        float r = s[0], g = src_rgb ? s[1] : s[0], b = src_rgb ? s[2] : s[0];
        if (src_alpha && !dst_alpha) {  // composite over white
            r = r * a + (1.0f - a);
            g = g * a + (1.0f - a);
            b = b * a + (1.0f - a);
        }
        if (dst_rgb) {
            d[0] = r;
            d[1] = g;
            d[2] = b;
        } else {
            d[0] = src_rgb ? 0.299f * r + 0.587f * g + 0.114f * b : r;  // ITU-R BT.601 luma, as PIL's "L"
        }
        if (dst_alpha) d[channels - 1] = a;
    }
    return out;
}

namespace {

// A zeroed width x height image with the channels and bit depth of `img`.
Image blank_like(const Image& img, int width, int height) {
    Image out;
    out.width = width;
    out.height = height;
    out.channels = img.channels;
    out.bit_depth = img.bit_depth;
    out.data.resize(out.pixels() * out.channels);
    return out;
}

}  // namespace

Image resize_bilinear(const Image& img, int width, int height) {
    check_resize(img, width, height, "resize");
    if (width == img.width && height == img.height) return img;
    Image out = blank_like(img, width, height);
    auto xt = bilinear_taps(img.width, width);
    auto yt = bilinear_taps(img.height, height);
    switch (img.channels) {
        case 1: bilinear_rows<1>(img, out, xt, yt, 1); break;
        case 3: bilinear_rows<3>(img, out, xt, yt, 3); break;
        case 4: bilinear_rows<4>(img, out, xt, yt, 4); break;
        default: bilinear_rows<0>(img, out, xt, yt, img.channels); break;
    }
    return out;
}

Image resize_nearest(const Image& img, int width, int height) {
    check_resize(img, width, height, "resize");
    if (width == img.width && height == img.height) return img;
    Image out = blank_like(img, width, height);
    // torch's "nearest": src = floor(dst * src_size / dst_size).
    std::vector<int> xs(width);
    for (int x = 0; x < width; ++x)
        xs[x] = std::min(static_cast<int>(static_cast<int64_t>(x) * img.width / width), img.width - 1);
    const int ch = img.channels;
    for (int y = 0; y < height; ++y) {
        int sy = std::min(static_cast<int>(static_cast<int64_t>(y) * img.height / height), img.height - 1);
        const float* srow = img.data.data() + static_cast<size_t>(sy) * img.width * ch;
        float* d = out.data.data() + static_cast<size_t>(y) * width * ch;
        for (int x = 0; x < width; ++x, d += ch) std::memcpy(d, srow + static_cast<size_t>(xs[x]) * ch, ch * sizeof(float));
    }
    return out;
}

Image crop(const Image& img, int x, int y, int width, int height) {
    check_image(img, "crop");
    if (width <= 0 || height <= 0 || x < 0 || y < 0 || static_cast<int64_t>(x) + width > img.width ||
        static_cast<int64_t>(y) + height > img.height)
        throw Error("crop " + std::to_string(width) + "x" + std::to_string(height) + "+" + std::to_string(x) + "+" +
                    std::to_string(y) + " lies outside the " + std::to_string(img.width) + "x" +
                    std::to_string(img.height) + " image");
    Image out = blank_like(img, width, height);
    const size_t row = static_cast<size_t>(width) * img.channels;
    for (int r = 0; r < height; ++r)
        std::memcpy(out.data.data() + r * row,
                    img.data.data() + ((static_cast<size_t>(y) + r) * img.width + x) * img.channels, row * sizeof(float));
    return out;
}

}  // namespace scvae
