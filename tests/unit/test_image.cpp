// Unit tests for scvae/image.h: PNG/JPEG reading and writing, errors, conversions, resizing.

#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/io.h"

using scvae::Image;
using scvae::ImageFormat;

namespace {

std::string data(const std::string& name) { return std::string(SCVAE_TEST_DATA) + "/images/" + name; }

std::string make_tmpdir() {
    std::string tmpl = ::testing::TempDir() + "scvae-image-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
    return buf.data();
}

std::set<std::string> list_dir(const std::string& dir) {
    std::set<std::string> names;
    DIR* d = opendir(dir.c_str());
    if (!d) return names;
    while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") names.insert(n);
    }
    closedir(d);
    return names;
}

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<uint8_t> read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// Expects `fn` to throw E with exactly `message`.
template <typename E, typename F>
void expect_message(F fn, const std::string& message) {
    try {
        fn();
        ADD_FAILURE() << "no exception, expected: " << message;
    } catch (const E& e) {
        EXPECT_EQ(std::string(e.what()), message);
    } catch (const std::exception& e) {
        ADD_FAILURE() << "wrong exception type: " << e.what() << ", expected: " << message;
    }
}

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const scvae::Error& e) {
        return e.what();
    }
    return "(no scvae::Error)";
}

// An image whose values are exactly k / levels, k pseudo-random.
Image quantised_image(int w, int h, int c, int levels, unsigned seed) {
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
    // Make sure the extremes are present.
    img.data[0] = 0.0f;
    img.data[1] = 1.0f;
    return img;
}

Image make(int w, int h, int c, std::vector<float> values) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = c;
    img.data = std::move(values);
    return img;
}

double mean_abs_diff(const Image& a, const Image& b) {
    double s = 0;
    for (size_t i = 0; i < a.data.size(); ++i) s += std::fabs(a.data[i] - b.data[i]);
    return s / a.data.size();
}

// A PNG signature + IHDR chunk (valid CRC) + the start of an IDAT chunk, no pixel data.
std::vector<uint8_t> png_header_only(uint32_t w, uint32_t h) {
    std::vector<uint8_t> b = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    auto be32 = [&](uint32_t v) {
        for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
    };
    be32(13);
    size_t start = b.size();
    for (char ch : std::string("IHDR")) b.push_back(static_cast<uint8_t>(ch));
    be32(w);
    be32(h);
    b.insert(b.end(), {8, 2, 0, 0, 0});  // 8 bit RGB, deflate, filter 0, not interlaced
    be32(static_cast<uint32_t>(crc32(0, b.data() + start, static_cast<uInt>(b.size() - start))));
    be32(1000);
    for (char ch : std::string("IDAT")) b.push_back(static_cast<uint8_t>(ch));
    return b;
}

// Redirects a standard fd to a file for the lifetime of the object.
struct Redirect {
    int fd, saved;
    Redirect(int target_fd, const std::string& path, int flags) : fd(target_fd) {
        std::fflush(stdout);
        saved = dup(fd);
        int f = open(path.c_str(), flags, 0644);
        dup2(f, fd);
        close(f);
        std::clearerr(stdin);
    }
    ~Redirect() {
        std::fflush(stdout);
        dup2(saved, fd);
        close(saved);
        std::clearerr(stdin);
    }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Fixtures

TEST(ImageRead, GradientPngExact) {
    Image img = scvae::read_image(data("gradient.png"));
    ASSERT_EQ(img.width, 64);
    ASSERT_EQ(img.height, 48);
    ASSERT_EQ(img.channels, 3);
    EXPECT_EQ(img.bit_depth, 8);
    ASSERT_EQ(img.data.size(), 64u * 48u * 3u);
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x) {
            ASSERT_EQ(img.at(y, x, 0), 4 * x / 255.0f) << x << "," << y;
            ASSERT_EQ(img.at(y, x, 1), 5 * y / 255.0f) << x << "," << y;
            ASSERT_EQ(img.at(y, x, 2), 2 * (x + y) / 255.0f) << x << "," << y;
        }
}

TEST(ImageRead, Gray16PngKeepsSixteenBitPrecision) {
    Image img = scvae::read_image(data("gray16.png"));
    ASSERT_EQ(img.width, 64);
    ASSERT_EQ(img.height, 32);
    ASSERT_EQ(img.channels, 1);
    EXPECT_EQ(img.bit_depth, 16);
    for (int y = 0; y < img.height; ++y)
        for (int x = 0; x < img.width; ++x) ASSERT_EQ(img.at(y, x, 0), (1000 * y + 17 * x + 3) / 65535.0f);
    // Neighbouring values differ by 17/65535, far below one 8-bit step.
    EXPECT_NEAR(img.at(0, 1, 0) - img.at(0, 0, 0), 17 / 65535.0, 1e-7);
}

TEST(ImageRead, RgbaPngAlpha) {
    Image img = scvae::read_image(data("rgba.png"));
    ASSERT_EQ(img.channels, 4);
    ASSERT_EQ(img.width, 64);
    for (int x = 0; x < 64; ++x) EXPECT_EQ(img.at(10, x, 3), 4 * x / 255.0f);
    // Colour matches the opaque reference crop.
    Image ref = scvae::read_image(data("photo64.png"));
    EXPECT_EQ(img.at(20, 30, 0), ref.at(20, 30, 0));
    EXPECT_EQ(img.at(20, 30, 2), ref.at(20, 30, 2));
}

TEST(ImageRead, PalettePngExpandedWithTransparency) {
    Image img = scvae::read_image(data("palette.png"));
    ASSERT_EQ(img.width, 32);
    ASSERT_EQ(img.channels, 4);  // tRNS becomes an alpha channel
    const float pal[4][4] = {{1, 0, 0, 1}, {0, 1, 0, 128 / 255.0f}, {0, 0, 1, 0}, {1, 1, 1, 1}};
    for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) {
            int idx = (x / 8 + y / 8) % 4;
            for (int c = 0; c < 4; ++c) ASSERT_EQ(img.at(y, x, c), pal[idx][c]) << x << "," << y << "," << c;
        }
}

TEST(ImageRead, FourBitGrayPngExpanded) {
    Image img = scvae::read_image(data("gray4.png"));
    ASSERT_EQ(img.channels, 1);
    EXPECT_EQ(img.bit_depth, 8);
    for (int y = 0; y < 16; ++y)
        for (int x = 0; x < 16; ++x) ASSERT_EQ(img.at(y, x, 0), ((x + y) % 16) * 17 / 255.0f);
}

TEST(ImageRead, InterlacedPng) {
    Image img = scvae::read_image(data("interlaced.png"));
    ASSERT_EQ(img.width, 33);
    ASSERT_EQ(img.height, 31);
    ASSERT_EQ(img.channels, 3);
    for (int y = 0; y < 31; ++y)
        for (int x = 0; x < 33; ++x) {
            ASSERT_EQ(img.at(y, x, 0), static_cast<uint8_t>(7 * x) / 255.0f);
            ASSERT_EQ(img.at(y, x, 1), static_cast<uint8_t>(8 * y) / 255.0f);
            ASSERT_EQ(img.at(y, x, 2), ((x * y) % 256) / 255.0f);
        }
}

TEST(ImageRead, BaselineAndProgressiveJpegMatchLosslessReference) {
    Image ref = scvae::read_image(data("photo64.png"));
    for (const char* name : {"baseline.jpg", "progressive.jpg"}) {
        Image img = scvae::read_image(data(name));
        ASSERT_EQ(img.width, 64) << name;
        ASSERT_EQ(img.height, 64) << name;
        ASSERT_EQ(img.channels, 3) << name;
        EXPECT_EQ(img.bit_depth, 8);
        EXPECT_LT(mean_abs_diff(img, ref), 0.03) << name;
    }
}

TEST(ImageRead, GrayscaleJpeg) {
    Image img = scvae::read_image(data("gray.jpg"));
    ASSERT_EQ(img.channels, 1);
    ASSERT_EQ(img.width, 64);
    ASSERT_EQ(img.height, 64);
    float lo = 1, hi = 0;
    for (float v : img.data) lo = std::min(lo, v), hi = std::max(hi, v);
    EXPECT_LT(lo, 0.3f);  // a real photo, not a flat field
    EXPECT_GT(hi, 0.6f);
}

TEST(ImageRead, AdobeCmykJpegConvertedToRgb) {
    Image img = scvae::read_image(data("cmyk.jpg"));
    ASSERT_EQ(img.channels, 3);
    ASSERT_EQ(img.width, 32);
    // Stored inverted CMYK (255, 128, 64, 200): RGB = C'K'/255 = (200, 100.4, 50.2).
    EXPECT_NEAR(img.at(16, 16, 0), 200 / 255.0, 3 / 255.0);
    EXPECT_NEAR(img.at(16, 16, 1), 100.4 / 255.0, 3 / 255.0);
    EXPECT_NEAR(img.at(16, 16, 2), 50.2 / 255.0, 3 / 255.0);
}

TEST(ImageRead, PhotoFixturesForCliTests) {
    for (const char* name : {"photo1.jpg", "photo2.png", "photo3.jpg"}) {
        Image img = scvae::read_image(data(name));
        EXPECT_GE(img.width, 96) << name;
        EXPECT_LE(img.width, 128) << name;
        EXPECT_EQ(img.channels, 3) << name;
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

TEST(ImageRoundTrip, PngEightAndSixteenBitAllChannelCountsExact) {
    for (int depth : {8, 16}) {
        for (int c = 1; c <= 4; ++c) {
            Image img = quantised_image(23, 17, c, depth == 8 ? 255 : 65535, 7u * c + depth);
            scvae::WriteOptions opt;
            opt.png_bit_depth = depth;
            std::vector<uint8_t> bytes = scvae::encode_image(img, ImageFormat::PNG, opt);
            ASSERT_EQ(scvae::sniff_image_format(bytes.data(), bytes.size()), ImageFormat::PNG);
            Image back = scvae::decode_image(bytes.data(), bytes.size(), "mem");
            ASSERT_EQ(back.width, 23);
            ASSERT_EQ(back.height, 17);
            ASSERT_EQ(back.channels, c);
            EXPECT_EQ(back.bit_depth, depth);
            ASSERT_EQ(back.data, img.data) << "depth " << depth << " channels " << c;
        }
    }
}

TEST(ImageRoundTrip, PngThroughFiles) {
    std::string dir = make_tmpdir();
    Image img = quantised_image(40, 30, 3, 255, 42);
    scvae::write_image(dir + "/a.PNG", img);
    EXPECT_EQ(list_dir(dir), std::set<std::string>{"a.PNG"});  // no temporary file left
    Image back = scvae::read_image(dir + "/a.PNG");
    EXPECT_EQ(back.data, img.data);
}

TEST(ImageRoundTrip, SixteenBitValuesSurviveBetterThanEightBit) {
    Image img = make(3, 1, 1, {0.1234567f, 0.5000001f, 0.9876543f});
    scvae::WriteOptions o16;
    o16.png_bit_depth = 16;
    auto b16 = scvae::encode_image(img, ImageFormat::PNG, o16);
    auto b8 = scvae::encode_image(img, ImageFormat::PNG);
    Image r16 = scvae::decode_image(b16.data(), b16.size(), "a");
    Image r8 = scvae::decode_image(b8.data(), b8.size(), "b");
    for (int i = 0; i < 3; ++i) {
        EXPECT_NEAR(r16.data[i], img.data[i], 0.5 / 65535 + 1e-7);
        EXPECT_NEAR(r8.data[i], img.data[i], 0.5 / 255 + 1e-7);
    }
    EXPECT_EQ(r16.data[0], 8091 / 65535.0f);  // round(0.1234567 * 65535) = 8091
    EXPECT_EQ(r8.data[0], 31 / 255.0f);       // round(0.1234567 * 255) = 31
}

TEST(ImageRoundTrip, OutOfRangeValuesAreClamped) {
    Image img = make(4, 1, 1, {-0.5f, 1.5f, NAN, 0.5f});
    auto b = scvae::encode_image(img, ImageFormat::PNG);
    Image r = scvae::decode_image(b.data(), b.size(), "x");
    EXPECT_EQ(r.data, (std::vector<float>{0.0f, 1.0f, 0.0f, 128 / 255.0f}));
}

TEST(ImageRoundTrip, JpegWithinTolerance) {
    Image ref = scvae::read_image(data("photo64.png"));
    std::string dir = make_tmpdir();
    scvae::WriteOptions opt;
    opt.jpeg_quality = 95;
    scvae::write_image(dir + "/x.jpeg", ref, opt);
    Image back = scvae::read_image(dir + "/x.jpeg");
    ASSERT_EQ(back.channels, 3);
    EXPECT_LT(mean_abs_diff(back, ref), 0.015);
    // Lower quality: smaller file, larger error.
    opt.jpeg_quality = 30;
    auto small = scvae::encode_image(ref, ImageFormat::JPEG, opt);
    EXPECT_LT(small.size(), read_bytes(dir + "/x.jpeg").size());
    Image low = scvae::decode_image(small.data(), small.size(), "low");
    EXPECT_GT(mean_abs_diff(low, ref), mean_abs_diff(back, ref));
}

TEST(ImageRoundTrip, JpegGrayAndAlphaDropped) {
    Image ref = scvae::read_image(data("photo64.png"));
    Image gray = scvae::to_channels(ref, 1);
    auto g = scvae::encode_image(gray, ImageFormat::JPEG);
    Image gb = scvae::decode_image(g.data(), g.size(), "g");
    EXPECT_EQ(gb.channels, 1);
    EXPECT_LT(mean_abs_diff(gb, gray), 0.015);

    Image rgba = scvae::to_channels(ref, 4);
    for (size_t i = 3; i < rgba.data.size(); i += 4) rgba.data[i] = 0.0f;  // fully transparent
    auto a = scvae::encode_image(rgba, ImageFormat::JPEG);
    Image ab = scvae::decode_image(a.data(), a.size(), "a");
    EXPECT_EQ(ab.channels, 3);
    EXPECT_LT(mean_abs_diff(ab, ref), 0.015);  // alpha dropped, colour kept

    Image ga = scvae::to_channels(gray, 2);
    auto gab = scvae::encode_image(ga, ImageFormat::JPEG);
    EXPECT_EQ(scvae::decode_image(gab.data(), gab.size(), "ga").channels, 1);
}

TEST(ImageRoundTrip, StdinAndStdout) {
    std::string dir = make_tmpdir();
    Image img = quantised_image(9, 5, 3, 255, 3);
    {
        Redirect r(STDOUT_FILENO, dir + "/out.bin", O_WRONLY | O_CREAT | O_TRUNC);
        scvae::write_image("-", img);
        std::fflush(stdout);
    }
    auto bytes = read_bytes(dir + "/out.bin");
    ASSERT_EQ(scvae::sniff_image_format(bytes.data(), bytes.size()), ImageFormat::PNG);
    {
        Redirect r(STDOUT_FILENO, dir + "/out2.bin", O_WRONLY | O_CREAT | O_TRUNC);
        scvae::write_image("-", img, {}, ImageFormat::JPEG);
        std::fflush(stdout);
    }
    bytes = read_bytes(dir + "/out2.bin");
    ASSERT_EQ(scvae::sniff_image_format(bytes.data(), bytes.size()), ImageFormat::JPEG);
    Image back;
    {
        Redirect r(STDIN_FILENO, dir + "/out.bin", O_RDONLY);
        back = scvae::read_image("-");
    }
    EXPECT_EQ(back.data, img.data);
    {
        Redirect r(STDIN_FILENO, "/dev/null", O_RDONLY);
        expect_message<scvae::Error>([] { scvae::read_image("-"); }, "<stdin>: empty file");
    }
}

// ---------------------------------------------------------------------------------------------
// Sniffing

TEST(ImageFormat, SniffFromBytesNotExtension) {
    const uint8_t png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0};
    const uint8_t jpg[] = {0xff, 0xd8, 0xff, 0xe0};
    const uint8_t txt[] = {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r'};
    EXPECT_EQ(scvae::sniff_image_format(png, sizeof png), ImageFormat::PNG);
    EXPECT_EQ(scvae::sniff_image_format(png, 7), ImageFormat::Unknown);
    EXPECT_EQ(scvae::sniff_image_format(jpg, sizeof jpg), ImageFormat::JPEG);
    EXPECT_EQ(scvae::sniff_image_format(jpg, 2), ImageFormat::Unknown);
    EXPECT_EQ(scvae::sniff_image_format(txt, sizeof txt), ImageFormat::Unknown);
    EXPECT_EQ(scvae::sniff_image_format(nullptr, 0), ImageFormat::Unknown);

    // A PNG named .jpg and a JPEG named .png read fine.
    std::string dir = make_tmpdir();
    write_bytes(dir + "/really-png.jpg", read_bytes(data("gradient.png")));
    write_bytes(dir + "/really-jpeg.png", read_bytes(data("baseline.jpg")));
    EXPECT_EQ(scvae::read_image(dir + "/really-png.jpg").data, scvae::read_image(data("gradient.png")).data);
    EXPECT_EQ(scvae::read_image(dir + "/really-jpeg.png").data, scvae::read_image(data("baseline.jpg")).data);
}

TEST(ImageFormat, FromName) {
    EXPECT_EQ(scvae::image_format_from_name("a.png"), ImageFormat::PNG);
    EXPECT_EQ(scvae::image_format_from_name("dir/A.PnG"), ImageFormat::PNG);
    EXPECT_EQ(scvae::image_format_from_name("x.jpg"), ImageFormat::JPEG);
    EXPECT_EQ(scvae::image_format_from_name("x.JPEG"), ImageFormat::JPEG);
    EXPECT_EQ(scvae::image_format_from_name("x.gif"), ImageFormat::Unknown);
    EXPECT_EQ(scvae::image_format_from_name("png"), ImageFormat::Unknown);
    EXPECT_EQ(scvae::image_format_from_name("dir.png/file"), ImageFormat::Unknown);
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(ImageErrors, ExactMessages) {
    std::string p;
    p = data("notimage.png");
    expect_message<scvae::Error>([&] { scvae::read_image(p); }, p + ": not a PNG, JPEG or netpbm file");
    p = data("empty.png");
    expect_message<scvae::Error>([&] { scvae::read_image(p); }, p + ": empty file");
    p = data("truncated.jpg");
    expect_message<scvae::Error>([&] { scvae::read_image(p); },
                                 p + ": truncated or corrupt JPEG file (Premature end of JPEG file)");
    p = data("truncated.png");
    expect_message<scvae::Error>([&] { scvae::read_image(p); },
                                 p + ": truncated or corrupt PNG file (unexpected end of file)");
    p = data("does-not-exist.png");
    expect_message<scvae::Error>([&] { scvae::read_image(p); }, p + ": cannot open: No such file or directory");
    p = data("");  // a folder
    EXPECT_EQ(error_of([&] { scvae::read_image(p); }), p + ": read error: Is a directory");
}

TEST(ImageErrors, CorruptData) {
    // A PNG whose IHDR CRC is wrong.
    auto png = read_bytes(data("gradient.png"));
    png[29] ^= 0xff;
    expect_message<scvae::Error>([&] { scvae::decode_image(png.data(), png.size(), "bad.png"); },
                                 "bad.png: truncated or corrupt PNG file (IHDR: CRC error)");
    // A PNG signature and nothing else.
    auto sig = std::vector<uint8_t>(png.begin(), png.begin() + 8);
    expect_message<scvae::Error>([&] { scvae::decode_image(sig.data(), sig.size(), "sig.png"); },
                                 "sig.png: truncated or corrupt PNG file (unexpected end of file)");
    // Damaged compressed data inside IDAT.
    auto photo = read_bytes(data("photo64.png"));
    for (size_t i = 200; i < 260; ++i) photo[i] ^= 0x5a;
    std::string msg = error_of([&] { scvae::decode_image(photo.data(), photo.size(), "d.png"); });
    EXPECT_EQ(msg.rfind("d.png: truncated or corrupt PNG file (", 0), 0u) << msg;
    // A JPEG start of image followed by garbage.
    std::vector<uint8_t> jpg = {0xff, 0xd8, 0xff, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06};
    msg = error_of([&] { scvae::decode_image(jpg.data(), jpg.size(), "g.jpg"); });
    EXPECT_EQ(msg.rfind("g.jpg: truncated or corrupt JPEG file (", 0), 0u) << msg;
    // Every truncation of a JPEG fails cleanly (no crash, no grey padding).
    auto base = read_bytes(data("baseline.jpg"));
    for (size_t n = 3; n + 2 < base.size(); n += 37) {
        msg = error_of([&] { scvae::decode_image(base.data(), n, "t.jpg"); });
        EXPECT_EQ(msg.rfind("t.jpg: truncated or corrupt JPEG file (", 0), 0u) << n << ": " << msg;
    }
    for (size_t n = base.size() - 40; n < base.size() - 2; ++n) {  // cut within the last few bytes of data
        msg = error_of([&] { scvae::decode_image(base.data(), n, "t.jpg"); });
        EXPECT_EQ(msg, "t.jpg: truncated or corrupt JPEG file (Premature end of JPEG file)") << n;
    }
    // Only the end-of-image marker missing: every pixel is there, the image reads.
    Image full = scvae::decode_image(base.data(), base.size(), "full.jpg");
    EXPECT_EQ(scvae::decode_image(base.data(), base.size() - 2, "noeoi.jpg").data, full.data);
    auto prog = read_bytes(data("progressive.jpg"));
    for (size_t n = 3; n + 2 < prog.size(); n += 31) {
        msg = error_of([&] { scvae::decode_image(prog.data(), n, "p.jpg"); });
        EXPECT_EQ(msg.rfind("p.jpg: truncated or corrupt JPEG file (", 0), 0u) << n << ": " << msg;
    }
    auto photo_png = read_bytes(data("photo64.png"));
    // Only IEND missing: the image reads.
    EXPECT_EQ(scvae::decode_image(photo_png.data(), photo_png.size() - 12, "noiend.png").data,
              scvae::decode_image(photo_png.data(), photo_png.size(), "full.png").data);
    for (size_t n = 8; n + 12 < photo_png.size(); n += 211) {
        msg = error_of([&] { scvae::decode_image(photo_png.data(), n, "t.png"); });
        EXPECT_EQ(msg.rfind("t.png: truncated or corrupt PNG file (", 0), 0u) << n << ": " << msg;
    }
}

TEST(ImageErrors, TooLargeRefusedFromHeader) {
    // 100000 x 100000 RGB would need 120 GB of floats: refused from the header, before any allocation.
    auto png = png_header_only(100000, 100000);
    expect_message<scvae::Error>([&] { scvae::decode_image(png.data(), png.size(), "huge.png"); },
                                 "huge.png: image too large (100000x100000 pixels, limit 100000000)");
    std::string dir = make_tmpdir();
    write_bytes(dir + "/huge.png", png);
    expect_message<scvae::Error>([&] { scvae::read_image(dir + "/huge.png"); },
                                 dir + "/huge.png: image too large (100000x100000 pixels, limit 100000000)");
    // Real files with a lower limit.
    scvae::ImageLimits lim;
    lim.max_pixels = 1000;
    expect_message<scvae::Error>([&] { scvae::read_image(data("gradient.png"), lim); },
                                 data("gradient.png") + ": image too large (64x48 pixels, limit 1000)");
    expect_message<scvae::Error>([&] { scvae::read_image(data("progressive.jpg"), lim); },
                                 data("progressive.jpg") + ": image too large (64x64 pixels, limit 1000)");
    lim.max_pixels = 64 * 48;  // the limit itself is allowed
    EXPECT_EQ(scvae::read_image(data("gradient.png"), lim).width, 64);
}

TEST(ImageErrors, UnknownExtension) {
    std::string dir = make_tmpdir();
    Image img = quantised_image(4, 4, 3, 255, 1);
    expect_message<scvae::InvalidArgument>([&] { scvae::write_image(dir + "/a.gif", img); },
                                      dir + "/a.gif: unknown image extension (use .png, .jpg, .jpeg, .ppm, .pgm, .pnm or .pam)");
    expect_message<scvae::InvalidArgument>([&] { scvae::write_image(dir + "/noext", img); },
                                      dir + "/noext: unknown image extension (use .png, .jpg, .jpeg, .ppm, .pgm, .pnm or .pam)");
    EXPECT_TRUE(list_dir(dir).empty());
}

TEST(ImageErrors, AtomicWriteLeavesNothingOnFailure) {
    std::string dir = make_tmpdir();
    Image img = quantised_image(8, 8, 3, 255, 5);
    // Into a folder that cannot be made (a file is in the way; missing folders are created).
    write_bytes(dir + "/plain", {1});
    EXPECT_THROW(scvae::write_image(dir + "/plain/a.png", img), scvae::Error);
    EXPECT_EQ(list_dir(dir), std::set<std::string>{"plain"});
    std::remove((dir + "/plain").c_str());
    // Over a directory: the rename fails, the temporary file is removed.
    ASSERT_EQ(mkdir((dir + "/taken.png").c_str(), 0755), 0);
    EXPECT_THROW(scvae::write_image(dir + "/taken.png", img), scvae::Error);
    EXPECT_EQ(list_dir(dir), std::set<std::string>{"taken.png"});
    EXPECT_TRUE(list_dir(dir + "/taken.png").empty());
    // An invalid image: nothing is created, an existing file is untouched.
    write_bytes(dir + "/keep.png", {1, 2, 3});
    Image bad = img;
    bad.data.pop_back();
    EXPECT_THROW(scvae::write_image(dir + "/keep.png", bad), scvae::Error);
    EXPECT_EQ(read_bytes(dir + "/keep.png"), (std::vector<uint8_t>{1, 2, 3}));
    EXPECT_EQ(list_dir(dir), (std::set<std::string>{"keep.png", "taken.png"}));
}

TEST(ImageErrors, BadWriteOptions) {
    Image img = quantised_image(4, 4, 3, 255, 1);
    scvae::WriteOptions o;
    o.png_bit_depth = 12;
    EXPECT_THROW(scvae::encode_image(img, ImageFormat::PNG, o), scvae::InvalidArgument);
    o = {};
    o.jpeg_quality = 0;
    EXPECT_THROW(scvae::encode_image(img, ImageFormat::JPEG, o), scvae::InvalidArgument);
    EXPECT_THROW(scvae::encode_image(img, ImageFormat::Unknown), scvae::InvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Conversions

TEST(ImageConvert, ToRgb) {
    Image g = make(2, 1, 1, {0.25f, 0.75f});
    EXPECT_EQ(scvae::to_rgb(g).data, (std::vector<float>{0.25f, 0.25f, 0.25f, 0.75f, 0.75f, 0.75f}));
    // Gray + alpha over white: v * a + (1 - a).
    Image ga = make(2, 1, 2, {0.2f, 0.5f, 0.0f, 0.0f});
    Image r = scvae::to_rgb(ga);
    ASSERT_EQ(r.channels, 3);
    EXPECT_NEAR(r.data[0], 0.6f, 1e-6);
    EXPECT_NEAR(r.data[3], 1.0f, 1e-6);  // transparent -> white
    Image rgba = make(1, 1, 4, {1.0f, 0.0f, 0.5f, 0.25f});
    r = scvae::to_rgb(rgba);
    EXPECT_NEAR(r.data[0], 1.0f, 1e-6);
    EXPECT_NEAR(r.data[1], 0.75f, 1e-6);
    EXPECT_NEAR(r.data[2], 0.875f, 1e-6);
    Image rgb = make(1, 1, 3, {0.1f, 0.2f, 0.3f});
    EXPECT_EQ(scvae::to_rgb(rgb).data, rgb.data);
    // The RGBA fixture: transparent left column is white.
    Image f = scvae::to_rgb(scvae::read_image(data("rgba.png")));
    EXPECT_EQ(f.at(5, 0, 0), 1.0f);
    EXPECT_EQ(f.at(5, 0, 2), 1.0f);
}

TEST(ImageConvert, ToChannels) {
    Image rgb = make(1, 2, 3, {1.0f, 0.0f, 0.0f, 0.2f, 0.4f, 0.6f});
    Image g = scvae::to_channels(rgb, 1);
    ASSERT_EQ(g.channels, 1);
    EXPECT_NEAR(g.data[0], 0.299f, 1e-6);
    EXPECT_NEAR(g.data[1], 0.299f * 0.2f + 0.587f * 0.4f + 0.114f * 0.6f, 1e-6);
    Image back = scvae::to_channels(g, 3);
    EXPECT_EQ(back.data[3], g.data[1]);
    EXPECT_EQ(back.data[5], g.data[1]);
    Image rgba = scvae::to_channels(rgb, 4);
    EXPECT_EQ(rgba.data, (std::vector<float>{1.0f, 0.0f, 0.0f, 1.0f, 0.2f, 0.4f, 0.6f, 1.0f}));
    Image half = make(1, 1, 4, {0.0f, 0.0f, 0.0f, 0.5f});
    EXPECT_NEAR(scvae::to_channels(half, 1).data[0], 0.5f, 1e-6);  // composited over white
    EXPECT_EQ(scvae::to_channels(half, 2).data, (std::vector<float>{0.0f, 0.5f}));  // alpha kept
    EXPECT_THROW(scvae::to_channels(rgb, 5), scvae::Error);
}

TEST(ImageResize, BilinearMatchesTorchAlignCornersFalse) {
    // torch.nn.functional.interpolate([[0, 1], [2, 3]], size=4, mode="bilinear", align_corners=False)
    Image img = make(2, 2, 1, {0, 1, 2, 3});
    Image up = scvae::resize_bilinear(img, 4, 4);
    const std::vector<float> want = {0.0f, 0.25f, 0.75f, 1.0f, 0.5f, 0.75f, 1.25f, 1.5f,
                                     1.5f, 1.75f, 2.25f, 2.5f, 2.0f, 2.25f, 2.75f, 3.0f};
    ASSERT_EQ(up.data.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(up.data[i], want[i], 1e-6) << i;
    // Halving averages 2x2 blocks.
    Image four = make(4, 2, 1, {0, 2, 4, 6, 8, 10, 12, 14});
    Image half = scvae::resize_bilinear(four, 2, 1);
    EXPECT_NEAR(half.data[0], 5.0f, 1e-6);
    EXPECT_NEAR(half.data[1], 9.0f, 1e-6);
    // 3 -> 2: source positions 0.25 and 1.75.
    Image three = make(3, 1, 1, {0, 1, 2});
    Image two = scvae::resize_bilinear(three, 2, 1);
    EXPECT_NEAR(two.data[0], 0.25f, 1e-6);
    EXPECT_NEAR(two.data[1], 1.75f, 1e-6);
    // Channels stay separate.
    Image rgb = make(2, 1, 3, {0, 10, 20, 1, 11, 21});
    Image r4 = scvae::resize_bilinear(rgb, 4, 1);
    EXPECT_NEAR(r4.at(0, 1, 0), 0.25f, 1e-6);
    EXPECT_NEAR(r4.at(0, 1, 1), 10.25f, 1e-5);
    EXPECT_NEAR(r4.at(0, 2, 2), 20.75f, 1e-5);
    // Two channels (generic path).
    Image ga = make(2, 1, 2, {0, 1, 1, 0});
    Image ga4 = scvae::resize_bilinear(ga, 4, 1);
    EXPECT_NEAR(ga4.at(0, 1, 0), 0.25f, 1e-6);
    EXPECT_NEAR(ga4.at(0, 1, 1), 0.75f, 1e-6);
    // A constant image stays constant.
    Image c = make(5, 3, 1, std::vector<float>(15, 0.3f));
    for (float v : scvae::resize_bilinear(c, 7, 11).data) EXPECT_NEAR(v, 0.3f, 1e-6);
    EXPECT_THROW(scvae::resize_bilinear(img, 0, 3), scvae::Error);
}

TEST(ImageResize, Nearest) {
    Image img = make(4, 1, 1, {0, 1, 2, 3});
    EXPECT_EQ(scvae::resize_nearest(img, 2, 1).data, (std::vector<float>{0, 2}));
    Image two = make(2, 2, 1, {0, 1, 2, 3});
    EXPECT_EQ(scvae::resize_nearest(two, 4, 4).data,
              (std::vector<float>{0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3}));
    Image rgb = make(2, 1, 3, {1, 2, 3, 4, 5, 6});
    EXPECT_EQ(scvae::resize_nearest(rgb, 3, 1).data, (std::vector<float>{1, 2, 3, 1, 2, 3, 4, 5, 6}));
    EXPECT_THROW(scvae::resize_nearest(img, 2, -1), scvae::Error);
}

TEST(ImageCrop, ValuesAndBounds) {
    Image img = scvae::read_image(data("gradient.png"));
    Image c = scvae::crop(img, 10, 5, 20, 7);
    ASSERT_EQ(c.width, 20);
    ASSERT_EQ(c.height, 7);
    ASSERT_EQ(c.channels, 3);
    for (int y = 0; y < 7; ++y)
        for (int x = 0; x < 20; ++x)
            for (int k = 0; k < 3; ++k) ASSERT_EQ(c.at(y, x, k), img.at(y + 5, x + 10, k));
    EXPECT_EQ(scvae::crop(img, 0, 0, 64, 48).data, img.data);
    expect_message<scvae::Error>([&] { scvae::crop(img, 50, 0, 20, 10); },
                                 "crop 20x10+50+0 lies outside the 64x48 image");
    EXPECT_THROW(scvae::crop(img, -1, 0, 5, 5), scvae::Error);
    EXPECT_THROW(scvae::crop(img, 0, 40, 5, 9), scvae::Error);
    EXPECT_THROW(scvae::crop(img, 0, 0, 0, 5), scvae::Error);
}
