// Unit tests for lib/src/io/bytes.h: the byte layer of the binary containers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "io/bytes.h"
#include "scvae/error.h"

using namespace scvae;

TEST(Bytes, Crc32IsZlibsAndRuns) {
    const std::string s = "123456789";
    EXPECT_EQ(bytes::crc32(s.data(), s.size()), 0xcbf43926u);  // the CRC-32/ISO-HDLC check value
    bytes::Crc32 c;
    c.update(s.data(), 4);
    c.update(s.data() + 4, 5);
    EXPECT_EQ(c.value(), 0xcbf43926u);
    bytes::Crc32 a;
    a.update_array(std::vector<uint16_t>{0x3231, 0x3433});  // "1234" stored little-endian
    EXPECT_EQ(a.value(), bytes::crc32("1234", 4));
    EXPECT_EQ(bytes::crc32(nullptr, 0), 0u);
}

TEST(Bytes, WriterIsLittleEndianAndReaderReadsItBack) {
    std::vector<uint8_t> b;
    bytes::Writer w(b);
    w.raw("TAG!", 4);
    w.u16(0x0102);
    w.u32(0x03040506u);
    w.u64(0x0708090a0b0c0d0eull);
    w.array(std::vector<float>{1.0f});
    w.crc_of_all();
    const std::vector<uint8_t> want = {'T', 'A', 'G', '!', 0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 0x0e, 0x0d,
                                       0x0c, 0x0b, 0x0a, 0x09, 0x08, 0x07, 0x00, 0x00, 0x80, 0x3f};
    ASSERT_EQ(b.size(), want.size() + 4);
    EXPECT_EQ(std::vector<uint8_t>(b.begin(), b.begin() + long(want.size())), want);
    bytes::Reader r(b.data(), b.size(), "x.bin", "test file");
    r.magic("TAG!", 4, "not a test file");
    EXPECT_EQ(r.u16(), 0x0102);
    EXPECT_EQ(r.u32(), 0x03040506u);
    EXPECT_EQ(r.u64(), 0x0708090a0b0c0d0eull);
    EXPECT_EQ(bytes::le32(r.raw(4)), 0x3f800000u);
    EXPECT_TRUE(r.crc_matches());
    r.need_exactly(4);
    b[5] ^= 1;
    bytes::Reader damaged(b.data(), b.size(), "x.bin", "test file");
    damaged.raw(22);
    EXPECT_FALSE(damaged.crc_matches());
}

TEST(Bytes, ReaderErrorsNameTheFileAndTheSizes) {
    const std::vector<uint8_t> b = {'T', 'A', 'G', '!', 1, 2, 3};
    auto error = [&](auto f) -> std::string {
        bytes::Reader r(b.data(), b.size(), "x.bin", "test file");
        try {
            f(r);
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    };
    EXPECT_EQ(error([](bytes::Reader& r) { r.magic("NOPE", 4, "not a test file"); }), "x.bin: not a test file");
    EXPECT_EQ(error([](bytes::Reader& r) { r.magic("TAG!", 4, "x"); r.u32(); }),
              "x.bin: truncated test file (expected 8 bytes, got 7)");
    EXPECT_EQ(error([](bytes::Reader& r) { r.magic("TAG!", 4, "x"); r.need(100); }),
              "x.bin: truncated test file (expected 104 bytes, got 7)");
    EXPECT_EQ(error([](bytes::Reader& r) { r.magic("TAG!", 4, "x"); r.need_exactly(1); }),
              "x.bin: test file has 2 bytes of trailing data");
    EXPECT_EQ(error([](bytes::Reader& r) { r.magic("TAG!", 4, "x"); r.u16(); r.need_exactly(1); }), "");
    // a file shorter than the magic, whose bytes agree with it: truncated, not foreign
    const std::vector<uint8_t> s = {'T', 'A'};
    bytes::Reader r(s.data(), s.size(), "s.bin", "test file");
    try {
        r.magic("TAG!", 4, "not a test file");
        FAIL();
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "s.bin: truncated test file (expected 4 bytes, got 2)");
    }
    EXPECT_EQ(bytes::truncated_text("record", 10, 3, true), "truncated record (expected at least 10 bytes, got 3)");
}
