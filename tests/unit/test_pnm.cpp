// Unit tests for netpbm reading and writing (P4, P5, P6, P7) and for ImageStreamReader (several images of any
// format back to back in one input).

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "scvae/dataset.h"
#include "scvae/error.h"
#include "scvae/image.h"

using scvae::Image;
using scvae::ImageFormat;

namespace {

std::string data(const std::string& name) { return std::string(SCVAE_TEST_DATA) + "/images/" + name; }

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

Image quantised(int w, int h, int c, int levels, unsigned seed) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = c;
    img.data.resize(img.pixels() * c);
    unsigned s = seed;
    for (auto& v : img.data) {
        s = s * 1103515245u + 12345u;
        v = static_cast<float>((s >> 8) % (levels + 1)) / static_cast<float>(levels);
    }
    img.data[0] = 0.0f;  // both ends of the range, where there is room for them
    if (img.data.size() > 1) img.data[1] = 1.0f;
    return img;
}

Image decode(const std::vector<uint8_t>& b, const std::string& name = "x") {
    return scvae::decode_image(b.data(), b.size(), name);
}

std::string error_of(const std::vector<uint8_t>& b, scvae::ImageLimits lim = {}) {
    try {
        scvae::decode_image(b.data(), b.size(), "x", lim);
    } catch (const scvae::Error& e) {
        return e.what();
    }
    return "(no error)";
}

// A temporary file holding `bytes`, open for reading.
struct TempInput {
    FILE* f;
    explicit TempInput(const std::vector<uint8_t>& bytes) {
        f = std::tmpfile();
        if (!bytes.empty()) std::fwrite(bytes.data(), 1, bytes.size(), f);  // an empty vector's data() may be null
        std::fflush(f);
        std::rewind(f);
        lseek(fileno(f), 0, SEEK_SET);
    }
    ~TempInput() { std::fclose(f); }
};

std::vector<std::vector<uint8_t>> split(const std::vector<uint8_t>& stream, bool single, uint64_t* trailing = nullptr,
                                        std::vector<bool>* more = nullptr) {
    TempInput in(stream);
    scvae::ImageStreamReader r(in.f, "s", single);
    std::vector<std::vector<uint8_t>> out;
    std::vector<uint8_t> b;
    while (r.next(b)) {
        out.push_back(b);
        if (more) more->push_back(r.more());
    }
    if (trailing) *trailing = r.trailing();
    return out;
}

std::vector<uint8_t> cat(std::initializer_list<std::vector<uint8_t>> parts) {
    std::vector<uint8_t> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace

TEST(Pnm, SniffAndNames) {
    auto p6 = bytes_of("P6\n1 1\n255\nabc");
    EXPECT_EQ(scvae::sniff_image_format(p6.data(), p6.size()), ImageFormat::PNM);
    for (const char* n : {"a.ppm", "a.PGM", "a.pbm", "a.pnm", "d/a.pam"})
        EXPECT_EQ(scvae::image_format_from_name(n), ImageFormat::PNM) << n;
    EXPECT_EQ(scvae::stream_image_name("-", 3), "stdin-0003");
    EXPECT_EQ(scvae::stream_image_name("dir/a.ppm", 12), "dir/a-0012.ppm");
    EXPECT_EQ(scvae::stream_image_name("dir.x/noext", 1), "dir.x/noext-0001");
    EXPECT_EQ(scvae::stream_image_name("-", 12345), "stdin-12345");
}

TEST(Pnm, EightBitP6AndP5GiveExactlyThePngFloats) {
    for (int c : {1, 3}) {
        Image img = quantised(23, 17, c, 255, 5u + c);
        auto pnm = scvae::encode_image(img, ImageFormat::PNM);
        EXPECT_EQ(std::string(pnm.begin(), pnm.begin() + 2), c == 1 ? "P5" : "P6");
        Image a = decode(pnm), b = decode(scvae::encode_image(img, ImageFormat::PNG));
        ASSERT_EQ(a.width, 23);
        ASSERT_EQ(a.height, 17);
        ASSERT_EQ(a.channels, c);
        EXPECT_EQ(a.bit_depth, 8);
        EXPECT_EQ(a.data, b.data);  // the same integers divided by 255
        EXPECT_EQ(a.data, img.data);
    }
}

TEST(Pnm, SixteenBitLikePngSixteenBit) {
    Image img = quantised(9, 7, 3, 65535, 11);
    scvae::WriteOptions o;
    o.png_bit_depth = 16;
    auto pnm = scvae::encode_image(img, ImageFormat::PNM, o);
    EXPECT_NE(std::string(pnm.begin(), pnm.begin() + 20).find("65535"), std::string::npos);
    Image a = decode(pnm), b = decode(scvae::encode_image(img, ImageFormat::PNG, o));
    EXPECT_EQ(a.bit_depth, 16);
    EXPECT_EQ(b.bit_depth, 16);
    EXPECT_EQ(a.data, b.data);  // v / 65535 both
}

TEST(Pnm, PamKeepsAlphaAndGray) {
    for (int c : {1, 2, 3, 4}) {
        Image img = quantised(5, 4, c, 255, 3u * c);
        auto pam = scvae::encode_pam(img);
        EXPECT_EQ(std::string(pam.begin(), pam.begin() + 3), "P7\n");
        Image a = decode(pam);
        EXPECT_EQ(a.channels, c);
        EXPECT_EQ(a.data, img.data);
    }
    // Alpha is dropped in P5/P6.
    Image rgba = quantised(3, 2, 4, 255, 1);
    Image a = decode(scvae::encode_image(rgba, ImageFormat::PNM));
    ASSERT_EQ(a.channels, 3);
    for (size_t i = 0; i < 6; ++i)
        for (int k = 0; k < 3; ++k) EXPECT_EQ(a.data[i * 3 + k], rgba.data[i * 4 + k]);
}

TEST(Pnm, HandWrittenHeadersCommentsMaxvalAndBitmaps) {
    // comments and any whitespace in the header, odd maxval
    Image a = decode(cat({bytes_of("P5 # a comment\n3\t# another\n 1\n15\n"), {0, 7, 15}}));
    ASSERT_EQ(a.width, 3);
    ASSERT_EQ(a.channels, 1);
    EXPECT_EQ(a.data[0], 0.0f);
    EXPECT_FLOAT_EQ(a.data[1], 7.0f / 15.0f);
    EXPECT_EQ(a.data[2], 1.0f);
    // 16-bit samples are big-endian
    Image w = decode(cat({bytes_of("P5\n2 1\n1000\n"), {0x01, 0xF4, 0x03, 0xE8}}));
    EXPECT_FLOAT_EQ(w.data[0], 0.5f);
    EXPECT_EQ(w.data[1], 1.0f);
    EXPECT_EQ(w.bit_depth, 16);
    // PBM: 1 is black, rows padded to whole bytes
    Image p = decode(cat({bytes_of("P4\n3 2\n"), {0xA0, 0x40}}));
    ASSERT_EQ(p.channels, 1);
    EXPECT_EQ(p.data, (std::vector<float>{0, 1, 0, 1, 0, 1}));
    // PAM with TUPLTYPE and comment lines
    Image m = decode(cat({bytes_of("P7\n# hi\nWIDTH 2\nHEIGHT 1\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n"),
                          {255, 0, 0, 0, 0, 255}}));
    ASSERT_EQ(m.channels, 3);
    EXPECT_EQ(m.data, (std::vector<float>{1, 0, 0, 0, 0, 1}));
}

TEST(Pnm, Errors) {
    EXPECT_EQ(error_of(bytes_of("P6\n2 2\n255\nabc")), "x: truncated netpbm file (expected 12 bytes of pixels, got 3)");
    EXPECT_EQ(error_of(bytes_of("P6\n2 2\n")), "x: truncated netpbm file (the header is cut off)");
    EXPECT_EQ(error_of(bytes_of("P3\n1 1\n255\n0 0 0\n")),
              "x: plain (ASCII) netpbm P3 is not supported (netpbm programs write the raw form unless given -plain)");
    EXPECT_EQ(error_of(bytes_of("P5\n1 1\n0\n\x00")), "x: unsupported netpbm maxval 0 (1 to 65535)");
    EXPECT_EQ(error_of(bytes_of("P5\n1 1\n70000\n\x00\x00")), "x: unsupported netpbm maxval 70000 (1 to 65535)");
    EXPECT_EQ(error_of(bytes_of("P5\n1 1\n15\n\x10")), "x: corrupt netpbm file (sample 16 above maxval 15)");
    EXPECT_EQ(error_of(bytes_of("P5\nab 1\n255\n\x10")), "x: corrupt netpbm header (no width)");
    EXPECT_EQ(error_of(bytes_of("P5\n0 1\n255\n\x10")), "x: invalid image size (0x1)");
    EXPECT_EQ(error_of(bytes_of("P7\nWIDTH 1\nHEIGHT 1\nMAXVAL 255\nENDHDR\nabc")), "x: corrupt PAM header (no DEPTH)");
    EXPECT_EQ(error_of(bytes_of("P7\nWIDTH 1\nHEIGHT 1\nDEPTH 5\nMAXVAL 255\nENDHDR\nabcde")),
              "x: unsupported PAM depth 5 (1 to 4 channels)");
    scvae::ImageLimits lim;
    lim.max_pixels = 1000;
    // refused from the header, before any allocation
    EXPECT_EQ(error_of(bytes_of("P6\n40000 40000\n255\n"), lim), "x: image too large (40000x40000 pixels, limit 1000)");
    EXPECT_EQ(error_of(bytes_of("P6\n99999999999999999999 2\n255\n")),
              "x: image too large (1099511627776x2 pixels, limit 100000000)");
}

TEST(Pnm, WriteByExtension) {
    char tmpl[] = "/tmp/scvae-pnm-XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    const std::string dir = tmpl;
    Image rgb = quantised(6, 5, 3, 255, 2), gray = quantised(6, 5, 1, 255, 4);
    scvae::write_image(dir + "/a.ppm", rgb);
    scvae::write_image(dir + "/g.pgm", gray);
    scvae::write_image(dir + "/a.pam", rgb);
    EXPECT_EQ(scvae::read_image(dir + "/a.ppm").data, rgb.data);
    EXPECT_EQ(scvae::read_image(dir + "/g.pgm").data, gray.data);
    EXPECT_EQ(read_bytes(dir + "/a.pam")[1], '7');
    EXPECT_EQ(scvae::read_image(dir + "/a.pam").data, rgb.data);
    EXPECT_THROW(scvae::write_image(dir + "/a.pbm", gray), scvae::InvalidArgument);
    for (const char* f : {"a.ppm", "g.pgm", "a.pam"}) std::remove((dir + "/" + f).c_str());
    rmdir(dir.c_str());
}

TEST(ImageStream, MixedFormatsBackToBackWithWhitespaceAndTrailingBytes) {
    const auto png = read_bytes(data("gradient.png")), jpg = read_bytes(data("progressive.jpg")),
               base = read_bytes(data("baseline.jpg"));
    const auto p6 = scvae::encode_image(quantised(7, 3, 3, 255, 9), ImageFormat::PNM);
    scvae::WriteOptions o16;
    o16.png_bit_depth = 16;
    const auto p5 = scvae::encode_image(quantised(1, 1, 1, 65535, 9), ImageFormat::PNM, o16);  // 1x1: tiny raster
    const auto junk = bytes_of("not an image");
    uint64_t trailing = 0;
    std::vector<bool> more;
    auto parts = split(cat({png, jpg, bytes_of("\n"), p6, p5, p6, base, bytes_of(" \n"), junk}), false, &trailing, &more);
    ASSERT_EQ(parts.size(), 6u);
    EXPECT_EQ(parts[0], png);
    EXPECT_EQ(parts[1], jpg);
    EXPECT_EQ(parts[2], p6);
    EXPECT_EQ(parts[3], p5);
    EXPECT_EQ(parts[4], p6);
    EXPECT_EQ(parts[5], base);
    EXPECT_EQ(more, (std::vector<bool>{true, true, true, true, true, false}));
    EXPECT_EQ(trailing, junk.size());
    for (const auto& p : parts) EXPECT_NO_THROW(decode(p));
}

TEST(ImageStream, JpegSegmentsHoldingAnotherJpegAreSkippedByLength) {
    // An APP1 segment (as EXIF) holding a whole JPEG thumbnail, with its own SOI and EOI.
    const auto base = read_bytes(data("baseline.jpg")), gray = read_bytes(data("gray.jpg"));
    ASSERT_LT(gray.size() + 2, 65535u);
    std::vector<uint8_t> with_thumb = {0xFF, 0xD8, 0xFF, 0xE1};
    const size_t len = gray.size() + 2;
    with_thumb.push_back(static_cast<uint8_t>(len >> 8));
    with_thumb.push_back(static_cast<uint8_t>(len & 0xff));
    with_thumb.insert(with_thumb.end(), gray.begin(), gray.end());
    with_thumb.insert(with_thumb.end(), base.begin() + 2, base.end());
    EXPECT_EQ(decode(with_thumb).data, decode(base).data);
    auto parts = split(cat({with_thumb, base}), false);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parts[0], with_thumb);
    EXPECT_EQ(parts[1], base);
}

TEST(ImageStream, NamedFilesHoldOneImageUnlessNetpbm) {
    const auto png = read_bytes(data("gradient.png"));
    const auto p6 = scvae::encode_image(quantised(4, 4, 3, 255, 1), ImageFormat::PNM);
    // A PNG file is read whole (bytes after IEND are the image's, as always), a netpbm file may be a stream.
    auto parts = split(cat({png, png}), true);
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(parts[0].size(), 2 * png.size());
    uint64_t trailing = 0;
    parts = split(cat({p6, p6, png}), true, &trailing);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(trailing, png.size());
}

TEST(ImageStream, TruncatedCorruptAndEmptyInputs) {
    const auto png = read_bytes(data("gradient.png"));
    const auto p6 = scvae::encode_image(quantised(4, 4, 3, 255, 1), ImageFormat::PNM);
    // a cut second image is returned as it is, and its decoder says what is wrong
    auto parts = split(cat({png, std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2)}), false);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_NE(error_of(parts[1]).find("truncated or corrupt PNG file"), std::string::npos);
    parts = split(cat({p6, std::vector<uint8_t>(p6.begin(), p6.end() - 5)}), false);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(error_of(parts[1]), "x: truncated netpbm file (expected 48 bytes of pixels, got 43)");
    // a corrupt netpbm header takes the rest of the input
    parts = split(cat({p6, bytes_of("P6\nxx\n"), p6}), false);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(error_of(parts[1]), "x: corrupt netpbm header (no width)");
    // an input that is empty or not an image is one image for the decoder to report
    parts = split({}, false);
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(error_of(parts[0]), "x: empty file");
    parts = split(bytes_of("hello"), false);
    ASSERT_EQ(parts.size(), 1u);
    EXPECT_EQ(error_of(parts[0]), "x: not a PNG, JPEG or netpbm file");
}

TEST(ImageStream, TooLargeHeaderStopsTheStreamWithoutReadingThePixels) {
    scvae::ImageLimits lim;
    lim.max_pixels = 100;
    const auto big = scvae::encode_image(quantised(20, 20, 3, 255, 1), ImageFormat::PNM);
    TempInput in(cat({big, big}));
    scvae::ImageStreamReader r(in.f, "s", false, lim);
    std::vector<uint8_t> b;
    ASSERT_TRUE(r.next(b));
    EXPECT_LT(b.size(), 20u);  // the header only
    EXPECT_EQ(error_of(b, lim), "x: image too large (20x20 pixels, limit 100)");
    EXPECT_FALSE(r.next(b));
}

TEST(Pnm, TrainingFoldersFindNetpbmFiles) {
    char tmpl[] = "/tmp/scvae-pnm-XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    const std::string dir = tmpl;
    ASSERT_EQ(mkdir((dir + "/sub").c_str(), 0755), 0);
    const auto p6 = scvae::encode_image(quantised(4, 4, 3, 255, 1), ImageFormat::PNM);
    for (const char* f : {"/b.PGM", "/a.ppm", "/sub/d.pam", "/c.txt"}) {
        std::ofstream o(dir + f, std::ios::binary);
        o.write(reinterpret_cast<const char*>(p6.data()), static_cast<std::streamsize>(p6.size()));
    }
    EXPECT_EQ(scvae::discover_images({dir}),
              (std::vector<std::string>{dir + "/a.ppm", dir + "/b.PGM", dir + "/sub/d.pam"}));
    for (const char* f : {"/b.PGM", "/a.ppm", "/sub/d.pam", "/c.txt"}) std::remove((dir + f).c_str());
    rmdir((dir + "/sub").c_str());
    rmdir(dir.c_str());
}
