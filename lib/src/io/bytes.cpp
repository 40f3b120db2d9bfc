// bytes.cpp - little-endian fields, CRC-32 and truncation errors for the binary containers (see bytes.h).
#include "io/bytes.h"

#include <zlib.h>

#include <cstring>

#include "scvae/error.h"

namespace scvae::bytes {

uint32_t crc32(const void* data, size_t size, uint32_t crc) {
    const auto* p = static_cast<const Bytef*>(data);
    while (size > 0) {
        const size_t chunk = std::min<size_t>(size, size_t(1) << 30);
        crc = uint32_t(crc32_z(crc, p, chunk));
        p += chunk;
        size -= chunk;
    }
    return crc;
}

uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) {
    return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
uint64_t le64(const uint8_t* p) { return uint64_t(le32(p)) | (uint64_t(le32(p + 4)) << 32); }

void Writer::raw(const void* data, size_t size) {
    const auto* b = static_cast<const uint8_t*>(data);
    out_.insert(out_.end(), b, b + size);
}
void Writer::u16(uint16_t v) {
    for (int i = 0; i < 2; ++i) out_.push_back(uint8_t(v >> (8 * i)));
}
void Writer::u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(uint8_t(v >> (8 * i)));
}
void Writer::u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(uint8_t(v >> (8 * i)));
}
void Writer::crc_of_all() { u32(crc32(out_.data(), out_.size())); }

std::string truncated_text(const std::string& what, uint64_t expected, uint64_t got, bool at_least) {
    return "truncated " + what + " (expected " + (at_least ? "at least " : "") + std::to_string(expected) +
           " bytes, got " + std::to_string(got) + ")";
}

void Reader::truncated(uint64_t expected) const { throw error_at(name_, truncated_text(what_, expected, size_)); }

void Reader::magic(const char* tag, size_t n, const std::string& not_what) {
    if (size_ == 0 || std::memcmp(p_, tag, std::min(n, size_)) != 0) throw error_at(name_, not_what);
    need(n);
    pos_ += n;
}

void Reader::need(uint64_t n) const {
    if (n > size_ - pos_) truncated(pos_ + n);
}

void Reader::need_exactly(uint64_t n) const {
    need(n);
    if (size_ - pos_ > n)
        throw error_at(name_, what_ + " has " + std::to_string(size_ - pos_ - n) + " bytes of trailing data");
}

uint16_t Reader::u16() {
    need(2);
    pos_ += 2;
    return le16(p_ + pos_ - 2);
}
uint32_t Reader::u32() {
    need(4);
    pos_ += 4;
    return le32(p_ + pos_ - 4);
}
uint64_t Reader::u64() {
    need(8);
    pos_ += 8;
    return le64(p_ + pos_ - 8);
}
const uint8_t* Reader::raw(size_t n) {
    need(n);
    pos_ += n;
    return p_ + pos_ - n;
}

bool Reader::crc_matches() const {
    need(4);
    return crc32(p_, pos_) == le32(p_ + pos_);
}

}  // namespace scvae::bytes
