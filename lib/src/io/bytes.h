// bytes.h - the one byte layer under scvae's three binary containers: code streams ("SCVC", codes.cpp),
// centroid files ("SCVK", cluster/kmeans.cpp) and model files ("SCVAEMDL", model/file.cpp, model/codec.cpp), and the
// checkpoint trailer ("SCCK", train/train.cpp). Little-endian fields whatever the host, a running CRC-32 (zlib's,
// ISO-HDLC), "truncated ... (expected N bytes, got M)" errors, and the magic + version check. Internal header.
#pragma once

#include <cstdint>
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace scvae::bytes {

inline constexpr bool kLittleEndianHost = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;

// CRC-32 of `size` bytes continued from `crc` (0 to start); any size (zlib's length is chunked).
uint32_t crc32(const void* data, size_t size, uint32_t crc = 0);

// A running CRC-32.
class Crc32 {
public:
    void update(const void* data, size_t size) { value_ = crc32(data, size, value_); }
    // An array as it is stored (little-endian), whatever the host order.
    template <class T>
    void update_array(const std::vector<T>& v);
    uint32_t value() const { return value_; }

private:
    uint32_t value_ = 0;
};

// Little-endian field access on raw bytes.
uint16_t le16(const uint8_t* p);
uint32_t le32(const uint8_t* p);
uint64_t le64(const uint8_t* p);

// Appends little-endian fields to a byte vector.
class Writer {
public:
    explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
    void raw(const void* data, size_t size);
    void u16(uint16_t v);
    void u32(uint32_t v);
    void u64(uint64_t v);
    template <class T>
    void array(const std::vector<T>& v);
    // The CRC-32 of every byte of the vector so far, as a u32.
    void crc_of_all();
    size_t size() const { return out_.size(); }

private:
    std::vector<uint8_t>& out_;
};

// Reads little-endian fields from bytes in memory. `name` (the file, for messages) and `what` ("model file")
// make its errors "<name>: truncated <what> (expected N bytes, got M)", N and M counted from the start.
class Reader {
public:
    Reader(const uint8_t* data, size_t size, std::string name, std::string what)
        : p_(data), size_(size), name_(std::move(name)), what_(std::move(what)) {}
    // Checks the magic tag: "<name>: not a <what> (<why>)" when it differs or the data is shorter.
    void magic(const char* tag, size_t n, const std::string& not_what);
    // Needs `n` more bytes, else the truncated error (expecting `n` more than the position).
    void need(uint64_t n) const;
    // Needs the data to end exactly `n` bytes from here: shorter is truncated, longer names the trailing bytes.
    void need_exactly(uint64_t n) const;
    uint16_t u16();
    uint32_t u32();
    uint64_t u64();
    const uint8_t* raw(size_t n);
    size_t pos() const { return pos_; }
    size_t size() const { return size_; }
    size_t remaining() const { return size_ - pos_; }
    const uint8_t* data() const { return p_; }
    // Checks the u32 CRC at the current position against the CRC of every byte before it.
    bool crc_matches() const;
    [[noreturn]] void truncated(uint64_t expected) const;

private:
    const uint8_t* p_;
    size_t size_, pos_ = 0;
    std::string name_, what_;
};

// "truncated <what> (expected [at least ]N bytes, got M)"
std::string truncated_text(const std::string& what, uint64_t expected, uint64_t got, bool at_least = false);

// Reads `count` elements of T (stored little-endian) from a stream into v, growing v as the data arrives (a
// corrupt count cannot allocate more than the stream holds). Returns the number of bytes read; fewer than
// count * sizeof(T) means the stream ended (or failed: the caller checks ferror).
template <class T>
uint64_t read_array(FILE* f, std::vector<T>& v, uint64_t count);

// ---- template definitions ----

template <class T>
void byteswap_array(T* data, size_t count) {
    for (size_t i = 0; i < count; ++i) {
        auto* b = reinterpret_cast<uint8_t*>(data + i);
        for (size_t j = 0; j < sizeof(T) / 2; ++j) std::swap(b[j], b[sizeof(T) - 1 - j]);
    }
}

template <class T>
void Crc32::update_array(const std::vector<T>& v) {
    if constexpr (kLittleEndianHost) {
        update(v.data(), v.size() * sizeof(T));
    } else {
        std::vector<T> tmp(v);
        byteswap_array(tmp.data(), tmp.size());
        update(tmp.data(), tmp.size() * sizeof(T));
    }
}

template <class T>
void Writer::array(const std::vector<T>& v) {
    const size_t at = out_.size();
    out_.resize(at + v.size() * sizeof(T));
    if (v.empty()) return;
    std::copy(reinterpret_cast<const uint8_t*>(v.data()), reinterpret_cast<const uint8_t*>(v.data() + v.size()),
              out_.data() + at);
    if constexpr (!kLittleEndianHost) byteswap_array(reinterpret_cast<T*>(out_.data() + at), v.size());
}

template <class T>
uint64_t read_array(FILE* f, std::vector<T>& v, uint64_t count) {
    constexpr uint64_t kChunk = (uint64_t(16) << 20) / sizeof(T);
    v.clear();
    uint64_t done = 0;
    while (done < count) {
        const uint64_t n = std::min(kChunk, count - done);
        v.resize(size_t(done + n));
        const size_t got = std::fread(v.data() + done, 1, size_t(n) * sizeof(T), f);
        if (got < n * sizeof(T)) {
            v.resize(size_t(done + got / sizeof(T)));
            return done * sizeof(T) + got;
        }
        done += n;
    }
    if constexpr (!kLittleEndianHost) byteswap_array(v.data(), v.size());
    return done * sizeof(T);
}

}  // namespace scvae::bytes
