// test_codes.cpp - the sparse-code stream: round trips, concatenation, every reader error, constant memory,
// binary16 conversion and the golden files under tests/data/golden/.
//
// Regenerate the golden files (only after a deliberate format change, and keep the old ones readable!):
//   SCVAE_REGENERATE_GOLDEN=1 build/tests/.../test_codes --gtest_filter=Golden.Regenerate
#include <gtest/gtest.h>

#include <malloc.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <zlib.h>

#include "scvae/codes.h"
#include "scvae/error.h"

using namespace scvae;

namespace {

using Bytes = std::vector<uint8_t>;

CodeRecord random_record(uint32_t seed, uint32_t grid_h = 4, uint32_t grid_w = 5, uint32_t K = 512,
                         double density = 0.05) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> val(-3.0f, 3.0f);
    std::bernoulli_distribution keep(density);
    CodeRecord r;
    r.fingerprint = "0123456789abcdef";
    r.n = 64;
    r.K = K;
    r.d = 3;
    r.source = "image-" + std::to_string(seed) + ".png";
    r.image_width = grid_w * 8 - 3;
    r.image_height = grid_h * 8 - 1;
    r.image_channels = 3;
    r.pad_right = 3;
    r.pad_bottom = 1;
    r.grid_h = grid_h;
    r.grid_w = grid_w;
    std::vector<float> dense(size_t(grid_h) * grid_w * K, 0.0f);
    for (auto& v : dense)
        if (keep(rng)) v = val(rng);
    r.set_dense(dense.data(), size_t(grid_h) * grid_w, K);
    return r;
}

void expect_same(const CodeRecord& a, const CodeRecord& b) {
    EXPECT_EQ(a.fingerprint, b.fingerprint);
    EXPECT_EQ(a.n, b.n);
    EXPECT_EQ(a.K, b.K);
    EXPECT_EQ(a.d, b.d);
    EXPECT_EQ(a.source, b.source);
    EXPECT_EQ(a.image_width, b.image_width);
    EXPECT_EQ(a.image_height, b.image_height);
    EXPECT_EQ(a.image_channels, b.image_channels);
    EXPECT_EQ(a.pad_right, b.pad_right);
    EXPECT_EQ(a.pad_bottom, b.pad_bottom);
    EXPECT_EQ(a.grid_h, b.grid_h);
    EXPECT_EQ(a.grid_w, b.grid_w);
    EXPECT_EQ(a.row_ptr, b.row_ptr);
    EXPECT_EQ(a.indices, b.indices);
    ASSERT_EQ(a.values.size(), b.values.size());
    for (size_t i = 0; i < a.values.size(); ++i) {
        uint32_t x, y;  // bit-exact (also tells -0 from +0)
        std::memcpy(&x, &a.values[i], 4);
        std::memcpy(&y, &b.values[i], 4);
        EXPECT_EQ(x, y) << "value " << i << ": " << a.values[i] << " vs " << b.values[i];
    }
}

CodeRecord half_rounded(CodeRecord r) {
    for (float& v : r.values) v = half_to_float(float_to_half(v));
    r.half = true;
    return r;
}

Bytes serialize_all(const std::vector<CodeRecord>& recs, CodeWriterOptions opt) {
    Bytes out;
    for (const auto& r : recs) {
        Bytes b = serialize_record(r, opt);
        out.insert(out.end(), b.begin(), b.end());
    }
    return out;
}

// A FILE* holding `data` (tmpfile: works for empty data too).
struct MemFile {
    FILE* f;
    explicit MemFile(const Bytes& data) : f(std::tmpfile()) {
        if (!data.empty()) std::fwrite(data.data(), 1, data.size(), f);
        std::rewind(f);
    }
    ~MemFile() { std::fclose(f); }
};

Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

struct ReadResult {
    std::vector<CodeRecord> records;
    std::string error;  // "" if the stream ended cleanly
    uint64_t bytes = 0;
    CodesEncoding encoding = CodesEncoding::Binary;
};

ReadResult read_all(const Bytes& data, const std::string& name = "codes.scv") {
    MemFile m(data);
    CodeReader reader(m.f, name);
    ReadResult res;
    try {
        CodeRecord r;
        while (reader.next(r)) res.records.push_back(r);
    } catch (const Error& e) {
        res.error = e.what();
    }
    res.bytes = reader.bytes_read();
    res.encoding = reader.encoding();
    EXPECT_EQ(reader.records_read(), res.records.size());
    return res;
}

uint32_t get32(const Bytes& b, size_t at) {
    return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 | uint32_t(b[at + 3]) << 24;
}
void put32(Bytes& b, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
}
// Re-seals a binary record that starts at `at` and is `size` bytes long (for records made bad on purpose).
void fix_crc(Bytes& b, size_t at, size_t size) {
    put32(b, at + size - 4, uint32_t(crc32_z(0, b.data() + at, size - 4)));
}

// Offsets inside one binary record (see man/scvae-codes.5).
struct Layout {
    size_t header_len, positions, nnz, row_ptr, indices, values, crc, size;
};
Layout layout_of(const Bytes& b, size_t at = 0) {
    Layout l{};
    l.header_len = get32(b, at + 12);
    l.positions = size_t(get32(b, at + 16 + 40)) * get32(b, at + 16 + 44);
    l.nnz = get32(b, at + 16 + 48);
    const size_t vsize = (get32(b, at + 8) & 1) ? 2 : 4;
    l.row_ptr = at + 16 + l.header_len;
    l.indices = l.row_ptr + 4 * (l.positions + 1);
    l.values = l.indices + 2 * l.nnz;
    l.crc = l.values + vsize * l.nnz;
    l.size = l.crc + 4 - at;
    return l;
}

// ---- golden content: written once to tests/data/golden/, hard-coded here forever ----

std::vector<CodeRecord> golden_records() {
    CodeRecord a;  // f32 record
    a.fingerprint = "0123456789abcdef";
    a.n = 16;
    a.K = 8;
    a.d = 2;
    a.source = "golden/a.png";
    a.image_width = 13;
    a.image_height = 10;
    a.image_channels = 3;
    a.pad_right = 3;
    a.pad_bottom = 2;
    a.grid_h = 3;
    a.grid_w = 4;
    // positions 0, 5 and 11 have nonzeros
    a.row_ptr = {0, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 6};
    a.indices = {1, 5, 0, 2, 3, 7};
    a.values = {0.5f, -1.25f, 3.14159274f, 1e-3f, -2.5e-5f, 100.0f};

    CodeRecord b;  // f16 record: every value is exactly representable in binary16
    b.fingerprint = "fedcba9876543210";
    b.n = 4;
    b.K = 16;
    b.d = 1;
    b.source = "\xc3\xbcnic\xc3\xb6" "de \xe2\x9c\x93.jpg";  // "ünicöde ✓.jpg"
    b.image_width = 3;
    b.image_height = 2;
    b.image_channels = 1;
    b.pad_right = 1;
    b.pad_bottom = 0;
    b.grid_h = 1;
    b.grid_w = 2;
    b.row_ptr = {0, 1, 4};
    b.indices = {15, 0, 7, 9};
    b.values = {0.333251953125f, -65504.0f, 6.103515625e-05f, 5.9604644775390625e-08f};
    b.half = true;
    return {a, b};
}

std::string golden_dir() { return std::string(SCVAE_TEST_DATA) + "/golden"; }

Bytes golden_bytes(CodesEncoding enc) {
    auto recs = golden_records();
    Bytes out;
    for (const auto& r : recs) {
        CodeWriterOptions opt;
        opt.encoding = enc;
        opt.half = r.half;
        Bytes b = serialize_record(r, opt);
        out.insert(out.end(), b.begin(), b.end());
    }
    return out;
}

Bytes slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    EXPECT_TRUE(in.good()) << "cannot open " << path;
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

// ================================================================ binary16

TEST(Half, KnownValues) {
    EXPECT_EQ(float_to_half(0.0f), 0x0000);
    EXPECT_EQ(float_to_half(-0.0f), 0x8000);
    EXPECT_EQ(float_to_half(1.0f), 0x3c00);
    EXPECT_EQ(float_to_half(-2.0f), 0xc000);
    EXPECT_EQ(float_to_half(0.1f), 0x2e66);
    EXPECT_EQ(float_to_half(65504.0f), 0x7bff);            // largest finite
    EXPECT_EQ(float_to_half(65519.99f), 0x7bff);           // below the halfway point to 65536
    EXPECT_EQ(float_to_half(65520.0f), 0x7c00);            // halfway, ties to even = infinity
    EXPECT_EQ(float_to_half(1e10f), 0x7c00);
    EXPECT_EQ(float_to_half(-1e10f), 0xfc00);
    EXPECT_EQ(float_to_half(INFINITY), 0x7c00);
    EXPECT_EQ(float_to_half(-INFINITY), 0xfc00);
    EXPECT_EQ(float_to_half(std::ldexp(1.0f, -14)), 0x0400);  // smallest normal
    EXPECT_EQ(float_to_half(std::ldexp(1.0f, -24)), 0x0001);  // smallest subnormal
    EXPECT_EQ(float_to_half(std::ldexp(1.0f, -25)), 0x0000);  // halfway to it, ties to even = 0
    EXPECT_EQ(float_to_half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)), 0x0001);
    EXPECT_EQ(float_to_half(3 * std::ldexp(1.0f, -25)), 0x0002);  // 1.5 ulp: tie to even (2)
    EXPECT_EQ(float_to_half(5 * std::ldexp(1.0f, -25)), 0x0002);  // 2.5 ulp: tie to even (2)
    EXPECT_EQ(float_to_half(std::ldexp(1.0f, -30)), 0x0000);
    EXPECT_EQ(float_to_half(-std::ldexp(1.0f, -30)), 0x8000);
    EXPECT_EQ(float_to_half(std::ldexp(1023.0f, -24)), 0x03ff);  // largest subnormal
    EXPECT_EQ(float_to_half(std::ldexp(2047.0f, -25)), 0x0400);  // rounds up into the smallest normal
    EXPECT_EQ(float_to_half(1.0f + std::ldexp(1.0f, -11)), 0x3c00);      // tie, even below
    EXPECT_EQ(float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie, even above
    EXPECT_EQ(float_to_half(std::nextafter(1.0f + std::ldexp(1.0f, -11), 2.0f)), 0x3c01);
    const uint16_t nan = float_to_half(NAN);
    EXPECT_EQ(nan & 0x7c00, 0x7c00);
    EXPECT_NE(nan & 0x03ff, 0);
    EXPECT_TRUE(std::isnan(half_to_float(nan)));

    EXPECT_EQ(half_to_float(0x3c00), 1.0f);
    EXPECT_EQ(half_to_float(0x0001), std::ldexp(1.0f, -24));
    EXPECT_EQ(half_to_float(0x03ff), std::ldexp(1023.0f, -24));
    EXPECT_EQ(half_to_float(0x7bff), 65504.0f);
    EXPECT_EQ(half_to_float(0xfbff), -65504.0f);
    EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
    EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
    EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
}

TEST(Half, EveryHalfRoundTrips) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = half_to_float(uint16_t(h));
        if (std::isnan(f)) {
            EXPECT_EQ(float_to_half(f) & 0x7c00, 0x7c00);
            continue;
        }
        ASSERT_EQ(float_to_half(f), h) << "half 0x" << std::hex << h;
    }
}

#if defined(__FLT16_MAX__)
TEST(Half, AgreesWithCompilerFloat16) {
    // Every 251st float (about 17 million) plus every float near the edges of the binary16 range.
    auto check = [](uint32_t bits) {
        float f;
        std::memcpy(&f, &bits, 4);
        if (std::isnan(f)) return true;
        const _Float16 ref = static_cast<_Float16>(f);
        uint16_t rb;
        std::memcpy(&rb, &ref, 2);
        if (float_to_half(f) != rb) {
            ADD_FAILURE() << "float bits 0x" << std::hex << bits << ": got 0x" << float_to_half(f) << ", expected 0x"
                          << rb;
            return false;
        }
        return true;
    };
    for (uint64_t bits = 0; bits < (uint64_t(1) << 32); bits += 251)
        if (!check(uint32_t(bits))) return;
    for (float edge : {std::ldexp(1.0f, -25), std::ldexp(1.0f, -14), 65504.0f, 65536.0f})
        for (float s : {1.0f, -1.0f}) {
            float e = edge * s;
            uint32_t b;
            std::memcpy(&b, &e, 4);
            for (uint32_t i = b - 20000; i != b + 20000; ++i)
                if (!check(i)) return;
        }
}
#endif

// ================================================================ record helpers

TEST(CodeRecord, DenseAndSetDense) {
    const float m[2 * 4] = {0, 1.5f, 0, -2, 0, 0, 0, 0};
    CodeRecord r;
    r.fingerprint = "00000000000000aa";
    r.n = 4;
    r.image_width = 2;
    r.image_height = 1;
    r.grid_h = 1;
    r.grid_w = 2;
    r.set_dense(m, 2, 4);
    EXPECT_EQ(r.K, 4u);
    EXPECT_EQ(r.row_ptr, (std::vector<uint32_t>{0, 2, 2}));
    EXPECT_EQ(r.indices, (std::vector<uint16_t>{1, 3}));
    EXPECT_EQ(r.values, (std::vector<float>{1.5f, -2.0f}));
    EXPECT_EQ(r.dense(0), (std::vector<float>{0, 1.5f, 0, -2}));
    EXPECT_EQ(r.dense(1), (std::vector<float>{0, 0, 0, 0}));
    EXPECT_EQ(r.dense_matrix(), std::vector<float>(m, m + 8));
    EXPECT_THROW(r.dense(2), Error);
    EXPECT_NO_THROW(r.validate());
    EXPECT_EQ(r.nnz(), 2u);
}

TEST(CodeRecord, ValidateReasons) {
    auto reason = [](const CodeRecord& r) {
        try {
            r.validate();
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CodeRecord good = random_record(1);
    EXPECT_EQ(reason(good), "");
    CodeRecord r = good;
    r.fingerprint = "0123";
    EXPECT_EQ(reason(r), "bad fingerprint '0123' (expected 16 lowercase hexadecimal digits)");
    r = good;
    r.K = 0;
    EXPECT_EQ(reason(r), "K=0 out of range (1..65536)");
    r = good;
    r.row_ptr.pop_back();
    EXPECT_EQ(reason(r), "row_ptr has 20 entries, expected 21");
    r = good;
    r.values.pop_back();
    EXPECT_NE(reason(r).find("values has"), std::string::npos);
    r = good;
    size_t p = 0;
    while (r.row_ptr[p + 1] == r.row_ptr[p]) ++p;  // first position with a nonzero
    r.indices[r.row_ptr[p]] = 600;
    EXPECT_EQ(reason(r), "index 600 >= K (K=512) at position " + std::to_string(p));
    r = good;
    r.values[r.row_ptr[p]] = INFINITY;
    EXPECT_EQ(reason(r), "value is NaN or infinite at position " + std::to_string(p));
    // Every header field has a documented range (scvae-codes(5), "Limits").
    r = good;
    r.values[r.row_ptr[p]] = 1e20f;
    EXPECT_EQ(reason(r), "value out of range (1e+20, |value| at most 1e15) at position " + std::to_string(p));
    r.values[r.row_ptr[p]] = -1e15f;
    EXPECT_EQ(reason(r), "");
    r = good;
    r.n = 0;
    EXPECT_EQ(reason(r), "n=0 out of range (1..65536)");
    r = good;
    for (uint32_t d : {17u, 32u, 64u, 1000u}) {
        r.d = d;
        EXPECT_EQ(reason(r), "d=" + std::to_string(d) + " out of range (0..16)");
    }
    r = good;
    r.image_channels = 2;
    EXPECT_EQ(reason(r), "image channels 2 out of range (1 or 3)");
    r = good;
    r.image_height = 0;
    EXPECT_EQ(reason(r).rfind("image size ", 0), 0u);
    r = good;
    r.image_width = 100000;
    r.image_height = 100000;
    EXPECT_EQ(reason(r), "image size 100000x100000 out of range (1..100000000 pixels)");
    r = good;
    r.d += 1;
    EXPECT_NE(reason(r).find("does not fit image size"), std::string::npos);
    r = good;
    r.image_width -= 8;  // the padding must be less than 2^d
    r.pad_right += 8;
    EXPECT_NE(reason(r).find("does not fit image size"), std::string::npos);
}

// ================================================================ round trips

TEST(Codes, BinaryRoundTripF32IsExact) {
    std::vector<CodeRecord> recs = {random_record(1), random_record(2, 1, 1, 8, 1.0), random_record(3, 32, 32)};
    recs[1].values[0] = -0.0f;  // an explicit stored zero keeps its sign
    recs[2].source = "";
    const Bytes bytes = serialize_all(recs, {});
    ReadResult res = read_all(bytes);
    EXPECT_EQ(res.error, "");
    ASSERT_EQ(res.records.size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
        expect_same(res.records[i], recs[i]);
        EXPECT_FALSE(res.records[i].half);
    }
    EXPECT_EQ(res.bytes, bytes.size());
    EXPECT_EQ(res.encoding, CodesEncoding::Binary);
}

TEST(Codes, BinaryRoundTripF16IsRounded) {
    std::vector<CodeRecord> recs = {random_record(4), random_record(5, 32, 32)};
    CodeWriterOptions opt;
    opt.half = true;
    const Bytes half = serialize_all(recs, opt);
    const Bytes full = serialize_all(recs, {});
    EXPECT_LT(half.size(), full.size());
    ReadResult res = read_all(half);
    EXPECT_EQ(res.error, "");
    ASSERT_EQ(res.records.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_TRUE(res.records[i].half);
        expect_same(res.records[i], half_rounded(recs[i]));
    }
}

TEST(Codes, HalfEdgeValuesRoundTrip) {
    // Enough values for the vectorised conversion (8 at a time) and its scalar tail.
    const float two24 = std::ldexp(1.0f, -24);
    const std::vector<float> edge = {two24,        3 * two24,     1023 * two24, 1024 * two24,  -two24,
                                     65504.0f,     -65504.0f,     65519.0f,     -0.0f,         1e-9f,
                                     0.1f,         1.0f / 3,      -2.5f,        std::ldexp(1.0f, -25),
                                     3 * std::ldexp(1.0f, -25),   1.0f + std::ldexp(1.0f, -11),
                                     1.0f + 3 * std::ldexp(1.0f, -11), 1000.5f, -1e-5f, 7.0f, 2049.0f};
    CodeRecord r = random_record(1, 1, 1, 64, 0.0);
    r.row_ptr = {0, uint32_t(edge.size())};
    r.indices.clear();
    for (size_t i = 0; i < edge.size(); ++i) r.indices.push_back(uint16_t(i));
    r.values = edge;
    for (auto enc : {CodesEncoding::Binary, CodesEncoding::Json}) {
        ReadResult res = read_all(serialize_record(r, {enc, true}));
        EXPECT_EQ(res.error, "");
        ASSERT_EQ(res.records.size(), 1u);
        for (size_t i = 0; i < edge.size(); ++i) {
            const float want = half_to_float(float_to_half(edge[i]));
            EXPECT_EQ(std::memcmp(&res.records[0].values[i], &want, 4), 0)
                << "value " << edge[i] << ": got " << res.records[0].values[i] << ", want " << want;
        }
    }
}

TEST(Codes, JsonRoundTrip) {
    std::vector<CodeRecord> recs = {random_record(6), random_record(7, 32, 32), random_record(8, 1, 1, 8, 1.0)};
    recs[0].source = "dir with spaces/\"quoted\"\\name\t.png";
    recs[2].values = {-0.0f, 1e-38f, 1e15f, 1.17549435e-38f, 1.4e-45f, 0.1f, 16777217.0f, -7.0f};
    CodeWriterOptions opt;
    opt.encoding = CodesEncoding::Json;
    const Bytes bytes = serialize_all(recs, opt);
    ReadResult res = read_all(bytes, "codes.jsonl");
    EXPECT_EQ(res.error, "");
    ASSERT_EQ(res.records.size(), 3u);
    for (size_t i = 0; i < 3; ++i) expect_same(res.records[i], recs[i]);
    EXPECT_EQ(res.encoding, CodesEncoding::Json);
    EXPECT_EQ(res.bytes, bytes.size());

    // Half precision: values printed rounded, read back rounded, flag carried.
    opt.half = true;
    // record 3 holds 3.4e38 which does not fit binary16: the writer refuses it
    EXPECT_THROW(serialize_record(recs[2], opt), Error);
    recs.pop_back();
    res = read_all(serialize_all(recs, opt));
    EXPECT_EQ(res.error, "");
    ASSERT_EQ(res.records.size(), 2u);
    for (size_t i = 0; i < 2; ++i) {
        EXPECT_TRUE(res.records[i].half);
        expect_same(res.records[i], half_rounded(recs[i]));
    }
}

TEST(Codes, JsonIsOneReadableObjectPerLine) {
    CodeRecord r = random_record(9, 2, 3, 16, 0.3);
    CodeWriterOptions opt;
    opt.encoding = CodesEncoding::Json;
    const Bytes b = serialize_record(r, opt);
    const std::string line(b.begin(), b.end());
    ASSERT_EQ(line.back(), '\n');
    EXPECT_EQ(line.find('\n'), line.size() - 1);
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["format"], "scvae-codes");
    EXPECT_EQ(j["version"], "1.0");
    EXPECT_EQ(j["fingerprint"], r.fingerprint);
    EXPECT_EQ(j["n"], r.n);
    EXPECT_EQ(j["K"], 16);
    EXPECT_EQ(j["d"], 3);
    EXPECT_EQ(j["source"], r.source);
    EXPECT_EQ(j["image"]["width"], r.image_width);
    EXPECT_EQ(j["image"]["height"], r.image_height);
    EXPECT_EQ(j["image"]["channels"], 3);
    EXPECT_EQ(j["pad"]["right"], 3);
    EXPECT_EQ(j["pad"]["bottom"], 1);
    EXPECT_EQ(j["grid"]["h"], 2);
    EXPECT_EQ(j["grid"]["w"], 3);
    EXPECT_EQ(j["half"], false);
    EXPECT_EQ(j["nnz"], r.nnz());
    EXPECT_EQ(j["row_ptr"].get<std::vector<uint32_t>>(), r.row_ptr);
    EXPECT_EQ(j["indices"].get<std::vector<uint16_t>>(), r.indices);
    EXPECT_EQ(j["values"].size(), r.values.size());
    // The JSON checksum is the CRC-32 of the equivalent binary record (what the binary writer stores).
    const Bytes bin = serialize_record(r, {});
    char crc[9];
    std::snprintf(crc, sizeof crc, "%08x", get32(bin, bin.size() - 4));
    EXPECT_EQ(j["crc32"], crc);
}

TEST(Codes, WriterMatchesSerialize) {
    std::vector<CodeRecord> recs = {random_record(10), random_record(11, 7, 9)};
    for (auto enc : {CodesEncoding::Binary, CodesEncoding::Json})
        for (bool half : {false, true}) {
            CodeWriterOptions opt{enc, half};
            FILE* f = std::tmpfile();
            CodeWriter w(f, "out.scv", opt);
            for (const auto& r : recs) w.write(r);
            EXPECT_EQ(w.records_written(), 2u);
            const Bytes expected = serialize_all(recs, opt);
            EXPECT_EQ(w.bytes_written(), expected.size());
            std::rewind(f);
            Bytes got(expected.size() + 1);
            got.resize(std::fread(got.data(), 1, got.size(), f));
            std::fclose(f);
            EXPECT_EQ(got, expected);
        }
}

TEST(Codes, ConcatenatedStreamsAndEmptyStreams) {
    std::vector<CodeRecord> recs = {random_record(12), random_record(13), random_record(14)};
    Bytes a = serialize_all({recs[0], recs[1]}, {});
    const Bytes b = serialize_all({recs[2]}, {});
    a.insert(a.end(), b.begin(), b.end());  // cat a.scv b.scv
    ReadResult res = read_all(a);
    EXPECT_EQ(res.error, "");
    ASSERT_EQ(res.records.size(), 3u);
    for (size_t i = 0; i < 3; ++i) expect_same(res.records[i], recs[i]);

    // A JSON Lines file after a binary file: every record is recognised on its own.
    const Bytes j = serialize_all({recs[1]}, {CodesEncoding::Json, false});
    a.insert(a.end(), j.begin(), j.end());
    res = read_all(a);
    EXPECT_EQ(res.error, "");
    ASSERT_EQ(res.records.size(), 4u);
    expect_same(res.records[3], recs[1]);

    // Blank lines between JSON records are fine.
    Bytes jj = serialize_all({recs[0]}, {CodesEncoding::Json, false});
    jj.push_back('\n');
    jj.insert(jj.end(), j.begin(), j.end());
    jj.push_back('\n');
    res = read_all(jj);
    EXPECT_EQ(res.error, "");
    EXPECT_EQ(res.records.size(), 2u);

    res = read_all({});
    EXPECT_EQ(res.error, "");
    EXPECT_TRUE(res.records.empty());
    res = read_all(to_bytes("\n  \n"));
    EXPECT_EQ(res.error, "");
    EXPECT_TRUE(res.records.empty());
}

// ================================================================ reader errors

TEST(CodesErrors, BadMagic) {
    ReadResult res = read_all(to_bytes("\x89PNG\r\n\x1a\n...."), "photo.png");
    EXPECT_EQ(res.error, "photo.png: record 1: not a scvae code stream (bad magic)");
    res = read_all(to_bytes("S"), "s.scv");
    EXPECT_EQ(res.error, "s.scv: record 1: truncated record (expected at least 80 bytes, got 1)");
    Bytes b = serialize_all({random_record(1)}, {});
    const Bytes more = to_bytes("SCVX and then some garbage after it");
    b.insert(b.end(), more.begin(), more.end());
    res = read_all(b);
    ASSERT_EQ(res.records.size(), 1u);
    EXPECT_EQ(res.error, "codes.scv: record 2: bad magic");
    res = read_all(to_bytes("{\"format\":\"something-else\"}\n"), "x.json");
    EXPECT_EQ(res.error, "x.json: record 1: not a scvae code stream (bad magic: \"format\" is not \"scvae-codes\")");
}

TEST(CodesErrors, ChecksumMismatchAfterGoodRecord) {
    Bytes b = serialize_all({random_record(1), random_record(2), random_record(3)}, {});
    const Layout l1 = layout_of(b);
    const Layout l2 = layout_of(b, l1.size);
    b[l2.values + 1] ^= 0x10;  // flip one bit of a value of record 2
    ReadResult res = read_all(b);
    ASSERT_EQ(res.records.size(), 1u);
    expect_same(res.records[0], random_record(1));
    EXPECT_EQ(res.error, "codes.scv: record 2: checksum mismatch");

    // in the header too (the source name)
    b = serialize_all({random_record(1)}, {});
    b[16 + 56] ^= 1;
    EXPECT_EQ(read_all(b).error, "codes.scv: record 1: checksum mismatch");
    // and in the stored CRC itself
    b = serialize_all({random_record(1)}, {});
    b.back() ^= 0x80;
    EXPECT_EQ(read_all(b).error, "codes.scv: record 1: checksum mismatch");
}

TEST(CodesErrors, Truncated) {
    const Bytes full = serialize_all({random_record(1), random_record(2)}, {});
    const size_t size1 = layout_of(full).size;
    const size_t size2 = full.size() - size1;
    // Cut at every interesting place of record 2: the stream ends exactly after record 1 only for cut == 0.
    for (size_t cut : {size_t(1), size_t(5), size_t(16), size_t(40), size_t(72 + 3), size2 / 2, size2 - 1}) {
        Bytes b(full.begin(), full.begin() + long(size1 + cut));
        ReadResult res = read_all(b);
        ASSERT_EQ(res.records.size(), 1u) << "cut " << cut;
        std::string expected;
        if (cut < 16)
            expected = "truncated record (expected at least 80 bytes, got " + std::to_string(cut) + ")";
        else if (cut < 72)
            expected = "truncated record (expected at least " + std::to_string(16 + get32(full, size1 + 12) + 8) +
                       " bytes, got " + std::to_string(cut) + ")";
        else
            expected = "truncated record (expected " + std::to_string(size2) + " bytes, got " + std::to_string(cut) + ")";
        EXPECT_EQ(res.error, "codes.scv: record 2: " + expected) << "cut " << cut;
        EXPECT_EQ(res.bytes, b.size());
    }
    Bytes exact(full.begin(), full.begin() + long(size1));
    ReadResult res = read_all(exact);
    EXPECT_EQ(res.error, "");
    EXPECT_EQ(res.records.size(), 1u);
}

TEST(CodesErrors, Versions) {
    Bytes b = serialize_all({random_record(1)}, {});
    Bytes v = b;
    v[4] = 2;  // major 2
    v[6] = 3;  // minor 3
    EXPECT_EQ(read_all(v).error, "codes.scv: record 1: unsupported format version 2.3 (this scvae reads 1.x)");
    v = b;
    v[8] = 0x02;  // an unknown flag that must be understood
    EXPECT_EQ(read_all(v).error, "codes.scv: record 1: unsupported flags 0x00000002 (this scvae reads 1.x)");

    // A newer minor with an extra header field and an ignorable flag still reads.
    const Layout l = layout_of(b);
    Bytes newer(b.begin(), b.begin() + long(l.row_ptr));
    newer[6] = 7;     // minor 7
    newer[10] = 0x01; // bit 16: may be ignored
    put32(newer, 12, uint32_t(l.header_len + 6));
    for (uint8_t x : {1, 2, 3, 4, 5, 6}) newer.push_back(x);
    newer.insert(newer.end(), b.begin() + long(l.row_ptr), b.end());
    fix_crc(newer, 0, newer.size());
    ReadResult res = read_all(newer);
    EXPECT_EQ(res.error, "");
    ASSERT_EQ(res.records.size(), 1u);
    expect_same(res.records[0], random_record(1));

    // JSON: major checked the same way; unknown fields ignored.
    CodeWriterOptions jopt{CodesEncoding::Json, false};
    Bytes j = serialize_record(random_record(1), jopt);
    std::string line(j.begin(), j.end());
    std::string future = line;
    future.replace(future.find("\"1.0\""), 5, "\"1.9\"");
    future.insert(1, "\"later\":{\"x\":[1,{\"y\":2}]},");
    res = read_all(to_bytes(future));
    EXPECT_EQ(res.error, "");
    ASSERT_EQ(res.records.size(), 1u);
    line.replace(line.find("\"1.0\""), 5, "\"3.1\"");
    EXPECT_EQ(read_all(to_bytes(line)).error,
              "codes.scv: record 1: unsupported format version 3.1 (this scvae reads 1.x)");
}

TEST(CodesErrors, BadContentWithValidChecksum) {
    CodeRecord r = random_record(1, 2, 2, 512, 0.02);
    ASSERT_GE(r.row_ptr[2] - r.row_ptr[1], 2u) << "test record needs two nonzeros at position 1";
    Bytes good = serialize_all({random_record(2), r}, {});
    const size_t at = layout_of(good).size;
    const Layout l = layout_of(good, at);
    const size_t j = r.row_ptr[1];  // first nonzero of position 1

    Bytes b = good;
    const float nan = NAN;
    std::memcpy(&b[l.values + 4 * j], &nan, 4);
    fix_crc(b, at, l.size);
    ReadResult res = read_all(b);
    EXPECT_EQ(res.records.size(), 1u);
    EXPECT_EQ(res.error, "codes.scv: record 2: value is NaN or infinite at position 1");

    b = good;
    const float inf = -INFINITY;
    std::memcpy(&b[l.values + 4 * j], &inf, 4);
    fix_crc(b, at, l.size);
    EXPECT_EQ(read_all(b).error, "codes.scv: record 2: value is NaN or infinite at position 1");

    b = good;
    b[l.indices + 2 * j] = 0x58;  // 600 = 0x0258
    b[l.indices + 2 * j + 1] = 0x02;
    fix_crc(b, at, l.size);
    EXPECT_EQ(read_all(b).error, "codes.scv: record 2: index 600 >= K (K=512) at position 1");

    b = good;
    std::swap(b[l.indices + 2 * j], b[l.indices + 2 * j + 2]);
    std::swap(b[l.indices + 2 * j + 1], b[l.indices + 2 * j + 3]);
    fix_crc(b, at, l.size);
    EXPECT_EQ(read_all(b).error, "codes.scv: record 2: indices not ascending at position 1");

    b = good;
    ASSERT_GT(r.row_ptr[1], 0u);
    put32(b, l.row_ptr + 8, r.row_ptr[1] - 1);  // row_ptr[2] < row_ptr[1]
    fix_crc(b, at, l.size);
    EXPECT_EQ(read_all(b).error, "codes.scv: record 2: row_ptr decreases at position 1");

    // A half record whose value is infinity.
    CodeWriterOptions hopt;
    hopt.half = true;
    b = serialize_all({r}, hopt);
    const Layout lh = layout_of(b);
    b[lh.values + 2 * j] = 0x00;
    b[lh.values + 2 * j + 1] = 0x7c;
    fix_crc(b, 0, lh.size);
    EXPECT_EQ(read_all(b).error, "codes.scv: record 1: value is NaN or infinite at position 1");
}

TEST(CodesErrors, CorruptHeaderDoesNotAllocate) {
    const Bytes good = serialize_all({random_record(1)}, {});
    Bytes b = good;
    put32(b, 16 + 40, 100000);  // grid 100000 x 5
    put32(b, 16 + 44, 100000);
    EXPECT_EQ(read_all(b).error,
              "codes.scv: record 1: grid 100000x100000 is too large (at most 67108864 positions)");
    b = good;
    put32(b, 16 + 52, 1u << 30);  // name length
    EXPECT_EQ(read_all(b).error, "codes.scv: record 1: source name length 1073741824 is too long (at most 4096)");
    b = good;
    put32(b, 12, 0xffffffffu);  // header length
    EXPECT_EQ(read_all(b).error, "codes.scv: record 1: bad header length 4294967295 (expected 56..65536)");
    b = good;
    put32(b, 16 + 12, 0);  // K = 0
    EXPECT_EQ(read_all(b).error, "codes.scv: record 1: K=0 out of range (1..65536)");
    b = good;
    put32(b, 16 + 48, 4000000);  // nnz larger than positions x K
    EXPECT_EQ(read_all(b).error, "codes.scv: record 1: nnz 4000000 exceeds positions x K (10240)");

    // Plausible sizes with no data behind them: truncated, and memory grows only with what arrived.
    b = good;
    put32(b, 16 + 12, 65536);       // K
    put32(b, 16 + 40, 8192);        // grid 8192 x 8192 = 2^26 positions
    put32(b, 16 + 44, 8192);
    put32(b, 16 + 48, 4000000000u);  // nnz
    const uint64_t expected = 16 + 56 + get32(good, 16 + 52) + 4 * ((uint64_t(1) << 26) + 1) + 6 * 4000000000ull + 4;
    struct mallinfo2 before = mallinfo2();
    ReadResult res = read_all(b);
    EXPECT_EQ(res.error, "codes.scv: record 1: truncated record (expected " + std::to_string(expected) +
                             " bytes, got " + std::to_string(good.size()) + ")");
    struct mallinfo2 after = mallinfo2();
    EXPECT_LT(after.uordblks, before.uordblks + (64u << 20));
}

TEST(CodesErrors, ErrorIsSticky) {
    Bytes b = serialize_all({random_record(1)}, {});
    b.back() ^= 1;
    MemFile m(b);
    CodeReader reader(m.f, "s.scv");
    CodeRecord r;
    EXPECT_THROW(reader.next(r), Error);
    try {
        reader.next(r);
        FAIL() << "no error the second time";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "s.scv: record 1: checksum mismatch");
    }
}

TEST(CodesErrors, Json) {
    const CodeRecord r1 = random_record(1, 2, 2, 512, 0.02);
    CodeWriterOptions opt{CodesEncoding::Json, false};
    const Bytes l1 = serialize_record(random_record(2), opt);
    const Bytes l2b = serialize_record(r1, opt);
    const std::string line2(l2b.begin(), l2b.end());
    auto stream = [&](const std::string& second) {
        Bytes b = l1;
        b.insert(b.end(), second.begin(), second.end());
        return b;
    };
    auto error_of = [&](const std::string& second) {
        ReadResult res = read_all(stream(second), "c.jsonl");
        EXPECT_EQ(res.records.size(), res.error.empty() ? 2u : 1u) << second;
        if (res.error.empty() && res.records.size() == 2) expect_same(res.records[1], r1);
        return res.error;
    };
    EXPECT_EQ(error_of(line2), "");
    // cut mid-line at the end of the stream
    EXPECT_EQ(error_of(line2.substr(0, line2.size() / 2)),
              "c.jsonl: record 2: truncated record (JSON line cut off at end of stream)");
    // every cut of a line at the end of the stream is a truncated record
    for (size_t cut = 1; cut < line2.size() - 1; cut += (cut < 400 ? 1 : 97)) {
        ReadResult res = read_all(stream(line2.substr(0, cut)), "c.jsonl");
        ASSERT_EQ(res.error, "c.jsonl: record 2: truncated record (JSON line cut off at end of stream)")
            << "cut at " << cut << ": " << line2.substr(0, cut);
    }
    // a complete line that is bad JSON is not "truncated", with or without its newline
    EXPECT_EQ(error_of("{\"a\":1,}").substr(0, 40), "c.jsonl: record 2: invalid JSON: parse e");
    // a changed value: the checksum no longer matches
    std::string changed = line2;
    const size_t v = changed.find("\"values\":[") + 10;
    changed.insert(v, "1");  // prefix a digit to the first value
    if (changed[v + 1] == '-') changed.erase(v, 1), changed.insert(v + 1, "1");
    EXPECT_EQ(error_of(changed), "c.jsonl: record 2: checksum mismatch");
    // without a checksum, the record is taken as it is
    std::string no_crc = line2;
    const size_t c = no_crc.find(",\"crc32\"");
    no_crc.erase(c, no_crc.find('}', c) - c);
    EXPECT_EQ(error_of(no_crc), "");
    // index >= K (without a checksum, to reach the content check)
    std::string bad_index = no_crc;
    const size_t i = bad_index.find("\"indices\":[") + 11;
    bad_index.replace(i, bad_index.find_first_of(",]", i) - i, "70000");
    EXPECT_EQ(error_of(bad_index), "c.jsonl: record 2: index 70000 >= K (K=512) at position 0");
    bad_index.replace(i, 5, "700");
    EXPECT_EQ(error_of(bad_index), "c.jsonl: record 2: index 700 >= K (K=512) at position 0");
    // invalid JSON
    EXPECT_EQ(error_of("{\"format\":\"scvae-codes\",}\n").substr(0, 40), "c.jsonl: record 2: invalid JSON: parse e");
    // missing and mistyped fields
    std::string missing = line2;
    missing.erase(missing.find("\"d\":"), 6);
    EXPECT_EQ(error_of(missing), "c.jsonl: record 2: missing field \"d\"");
    std::string mistyped = line2;
    mistyped.replace(mistyped.find("\"n\":64"), 6, "\"n\":-64");
    EXPECT_EQ(error_of(mistyped), "c.jsonl: record 2: field \"n\" is not an integer between 0 and 4294967295");
    std::string strings = line2;
    strings.replace(strings.find("\"values\":[") + 10, 0, "\"x\",");
    EXPECT_EQ(error_of(strings), "c.jsonl: record 2: field \"values\" must hold numbers only");
    // garbage after a JSON record
    EXPECT_EQ(error_of("hello\n"), "c.jsonl: record 2: bad magic");
}

TEST(CodesErrors, WriterRefusesBadRecords) {
    FILE* f = std::tmpfile();
    CodeWriter w(f, "out.scv");
    w.write(random_record(1));
    CodeRecord r = random_record(2, 1, 2, 8, 1.0);
    r.values[9] = NAN;
    try {
        w.write(r);
        ADD_FAILURE() << "NaN written";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()), "out.scv: record 2: value is NaN or infinite at position 1");
    }
    EXPECT_EQ(w.records_written(), 1u);
    CodeWriter wh(f, "out.scv", {CodesEncoding::Binary, true});
    r = random_record(2, 1, 1, 8, 1.0);
    r.values[1] = 70000.0f;
    try {
        wh.write(r);
        ADD_FAILURE() << "70000 written as half";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "out.scv: record 1: value 70000 at position 0 does not fit half precision (largest finite value "
                  "65504)");
    }
    std::fclose(f);
}

// ================================================================ streaming in constant memory

TEST(Codes, ReadingManyRecordsUsesConstantMemory) {
    FILE* f = std::tmpfile();
    CodeWriter w(f, "many.scv");
    std::vector<CodeRecord> recs;
    for (uint32_t i = 0; i < 7; ++i) recs.push_back(random_record(i, 16, 16, 512, 0.03));
    for (uint32_t i = 0; i < 3000; ++i) w.write(recs[i % 7]);
    std::rewind(f);
    CodeReader reader(f, "many.scv");
    CodeRecord r;
    size_t before = 0;
    size_t count = 0;
    while (reader.next(r)) {
        if (++count == 50) before = mallinfo2().uordblks;
    }
    const size_t after = mallinfo2().uordblks;
    EXPECT_EQ(count, 3000u);
    EXPECT_LT(after, before + 64 * 1024) << "heap grew by " << (after - before) << " bytes";
    std::fclose(f);
}

TEST(Codes, ForEachRecordReadsSeveralFiles) {
    const std::string dir = ::testing::TempDir();
    const std::string a = dir + "/fe_a.scv", b = dir + "/fe_b.jsonl";
    {
        const Bytes x = serialize_all({random_record(1), random_record(2)}, {});
        std::ofstream(a, std::ios::binary).write(reinterpret_cast<const char*>(x.data()), long(x.size()));
        const Bytes y = serialize_all({random_record(3)}, {CodesEncoding::Json, false});
        std::ofstream(b, std::ios::binary).write(reinterpret_cast<const char*>(y.data()), long(y.size()));
    }
    std::vector<std::string> seen;
    for_each_record({a, b}, [&](const CodeRecord& r, const std::string& name) { seen.push_back(name + ":" + r.source); });
    EXPECT_EQ(seen, (std::vector<std::string>{a + ":image-1.png", a + ":image-2.png", b + ":image-3.png"}));
}

// ================================================================ golden files

TEST(Golden, Regenerate) {
    const char* env = std::getenv("SCVAE_REGENERATE_GOLDEN");
    if (!env || std::string(env) != "1") GTEST_SKIP() << "set SCVAE_REGENERATE_GOLDEN=1 to rewrite the golden files";
    for (auto [enc, file] : {std::pair{CodesEncoding::Binary, "/v1.scv"}, std::pair{CodesEncoding::Json, "/v1.jsonl"}}) {
        const Bytes b = golden_bytes(enc);
        std::ofstream out(golden_dir() + file, std::ios::binary);
        out.write(reinterpret_cast<const char*>(b.data()), long(b.size()));
        ASSERT_TRUE(out.good());
    }
}

TEST(Golden, V1FilesReadIdentically) {
    const auto expected = golden_records();
    for (const char* file : {"/v1.scv", "/v1.jsonl"}) {
        const Bytes b = slurp(golden_dir() + file);
        EXPECT_LT(b.size(), 4096u);
        ReadResult res = read_all(b, file);
        EXPECT_EQ(res.error, "") << file;
        ASSERT_EQ(res.records.size(), 2u) << file;
        for (size_t i = 0; i < 2; ++i) {
            SCOPED_TRACE(std::string(file) + " record " + std::to_string(i + 1));
            expect_same(res.records[i], expected[i]);
            EXPECT_EQ(res.records[i].half, expected[i].half);
        }
    }
}

// The writer still produces the 1.0 bytes. When a new minor version is introduced this test changes
// (add v1_1 files), but V1FilesReadIdentically must keep passing on the old files.
TEST(Golden, WriterStillProducesV1Bytes) {
    EXPECT_EQ(slurp(golden_dir() + "/v1.scv"), golden_bytes(CodesEncoding::Binary));
    EXPECT_EQ(slurp(golden_dir() + "/v1.jsonl"), golden_bytes(CodesEncoding::Json));
}

// An independent reading of v1.scv, offset by offset as man/scvae-codes.5 describes it.
TEST(Golden, ManPageLayout) {
    const Bytes b = slurp(golden_dir() + "/v1.scv");
    ASSERT_GT(b.size(), 200u);
    // record 1
    EXPECT_EQ(std::string(b.begin(), b.begin() + 4), "SCVC");
    EXPECT_EQ(b[4] | b[5] << 8, 1);  // major
    EXPECT_EQ(b[6] | b[7] << 8, 0);  // minor
    EXPECT_EQ(get32(b, 8), 0u);      // flags: f32
    const uint32_t L = get32(b, 12);
    EXPECT_EQ(L, 56u + 12u);  // "golden/a.png"
    const Bytes fp(b.begin() + 16, b.begin() + 24);
    EXPECT_EQ(fp, (Bytes{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef}));
    const uint32_t want[] = {16, 8, 2, 13, 10, 3, 3, 2, 3, 4, 6, 12};  // n K d w h c pr pb gh gw nnz namelen
    for (int i = 0; i < 12; ++i) EXPECT_EQ(get32(b, 24 + 4 * i), want[i]) << "header field " << i;
    EXPECT_EQ(std::string(b.begin() + 72, b.begin() + 84), "golden/a.png");
    size_t at = 16 + L;
    EXPECT_EQ(get32(b, at + 4 * 12), 6u);  // row_ptr[12] = nnz
    at += 4 * 13;
    EXPECT_EQ(b[at + 2 * 5] | b[at + 2 * 5 + 1] << 8, 7);  // indices[5]
    at += 2 * 6;
    float v;
    std::memcpy(&v, &b[at + 4 * 5], 4);
    EXPECT_EQ(v, 100.0f);
    at += 4 * 6;
    EXPECT_EQ(get32(b, at), uint32_t(crc32_z(0, b.data(), at)));
    at += 4;
    // record 2: f16
    const size_t r2 = at;
    EXPECT_EQ(std::string(b.begin() + long(r2), b.begin() + long(r2) + 4), "SCVC");
    EXPECT_EQ(get32(b, r2 + 8), 1u);  // flags: f16
    const uint32_t L2 = get32(b, r2 + 12);
    const Layout l = layout_of(b, r2);
    EXPECT_EQ(l.nnz, 4u);
    EXPECT_EQ(b[l.values] | b[l.values + 1] << 8, 0x3555);      // 0.333251953125
    EXPECT_EQ(b[l.values + 2] | b[l.values + 3] << 8, 0xfbff);  // -65504
    EXPECT_EQ(b[l.values + 6] | b[l.values + 7] << 8, 0x0001);  // 2^-24
    EXPECT_EQ(l.crc + 4, b.size());
    EXPECT_EQ(get32(b, l.crc), uint32_t(crc32_z(0, b.data() + r2, l.crc - r2)));
    EXPECT_EQ(L2, 56u + uint32_t(golden_records()[1].source.size()));
}
