// image_stream.cpp - several images back to back in one input (see ImageStreamReader in scvae/image.h).
//
// Each image's end is found from its own structure, without decoding it:
//   PNG     the signature, then chunks (length, type, data, CRC) up to and including IEND;
//   JPEG    SOI, then marker segments by their lengths; after each SOS the entropy-coded data up to the next
//           marker that is not RSTn (0xFF 0x00 is a stuffed byte); up to and including EOI. APPn segments
//           (EXIF thumbnails, which hold whole JPEGs) are skipped by their length;
//   netpbm  the header (parsed as decode_pnm does) and its raster of known size.
// The input is read with read(2) as bytes arrive, so a pipe's images are handled as they come.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "image/pnm.h"
#include "scvae/error.h"
#include "scvae/image.h"

namespace scvae {

struct ImageStreamReader::Buf {
    int fd;
    std::string name;
    std::vector<uint8_t> buf = std::vector<uint8_t>(1 << 16);
    size_t pos = 0, len = 0;
    bool eof = false;

    // Reads once (what is there, at least one byte) into the free space; false at the end of the input.
    bool read_some() {
        if (eof) return false;
        if (len == buf.size()) {
            if (pos > 0) {
                std::memmove(buf.data(), buf.data() + pos, len - pos);
                len -= pos;
                pos = 0;
            } else {
                buf.resize(buf.size() * 2);
            }
        }
        for (;;) {
            ssize_t got = ::read(fd, buf.data() + len, buf.size() - len);
            if (got > 0) {
                len += static_cast<size_t>(got);
                return true;
            }
            if (got == 0) {
                eof = true;
                return false;
            }
            if (errno != EINTR) throw error_at(name, std::string("read error: ") + std::strerror(errno));
        }
    }
    // At least n bytes buffered from pos (fewer only at the end of the input); returns how many there are.
    size_t want(size_t n) {
        while (len - pos < n && !eof) {
            if (pos > 0 && buf.size() - pos < n) {
                std::memmove(buf.data(), buf.data() + pos, len - pos);
                len -= pos;
                pos = 0;
            }
            if (buf.size() < n) buf.resize(n);
            read_some();
        }
        return len - pos;
    }
    int peek(size_t k) { return want(k + 1) > k ? buf[pos + k] : -1; }
    // Appends up to n bytes to out; returns how many (fewer at the end of the input).
    uint64_t copy(uint64_t n, std::vector<uint8_t>& out) {
        uint64_t done = 0;
        while (done < n) {
            if (pos == len) {
                pos = len = 0;
                if (!read_some()) break;
            }
            const size_t take = static_cast<size_t>(std::min<uint64_t>(n - done, len - pos));
            out.insert(out.end(), buf.data() + pos, buf.data() + pos + take);
            pos += take;
            done += take;
        }
        return done;
    }
    // Appends bytes up to and including the next 0xFF; false when the input ends first.
    bool copy_through_ff(std::vector<uint8_t>& out) {
        for (;;) {
            if (pos == len) {
                pos = len = 0;
                if (!read_some()) return false;
            }
            const uint8_t* start = buf.data() + pos;
            const void* ff = std::memchr(start, 0xFF, len - pos);
            const size_t take = ff ? static_cast<size_t>(static_cast<const uint8_t*>(ff) - start) + 1 : len - pos;
            out.insert(out.end(), start, start + take);
            pos += take;
            if (ff) return true;
        }
    }
    int get(std::vector<uint8_t>& out) {
        if (pos == len) {
            pos = len = 0;
            if (!read_some()) return -1;
        }
        out.push_back(buf[pos]);
        return buf[pos++];
    }
    uint64_t drain() {
        uint64_t n = len - pos;
        pos = len = 0;
        while (read_some()) {
            n += len;
            pos = len = 0;
        }
        return n;
    }
};

ImageStreamReader::ImageStreamReader(FILE* f, std::string name, bool single, const ImageLimits& limits)
    : in_(new Buf{fileno(f), name}), name_(std::move(name)), single_(single), limits_(limits) {}

ImageStreamReader::~ImageStreamReader() = default;

int ImageStreamReader::next_kind() {
    Buf& b = *in_;
    for (;;) {
        int c = b.peek(0);
        if (c < 0) return 0;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
            ++b.pos;
            continue;
        }
        break;
    }
    uint8_t head[8];
    const size_t have = std::min<size_t>(b.want(8), 8);
    std::memcpy(head, b.buf.data() + b.pos, have);
    switch (sniff_image_format(head, have)) {
        case ImageFormat::PNG: return 'P';
        case ImageFormat::JPEG: return 'J';
        case ImageFormat::PNM: return 'N';
        default: return '?';
    }
}

bool ImageStreamReader::next(std::vector<uint8_t>& bytes) {
    bytes.clear();
    if (done_) return false;
    int kind;
    if (count_ == 0) {
        if (in_->peek(0) < 0) {  // an empty input: one empty "image" for decode_image to report
            count_ = 1;
            done_ = true;
            return true;
        }
        kind = next_kind();
        if (kind == 0) {  // only whitespace
            count_ = 1;
            done_ = true;
            return true;
        }
    } else {
        kind = next_kind();
        if (kind == 0 || kind == '?' || (single_ && kind != 'N')) {
            trailing_ = in_->drain();
            done_ = true;
            return false;
        }
    }
    ++count_;
    if (single_ && kind != 'N') {  // a file holds one PNG or JPEG image, read whole as always
        rest(bytes);
        return true;
    }
    switch (kind) {
        case 'P': frame_png(bytes); break;
        case 'J': frame_jpeg(bytes); break;
        case 'N':
            if (!frame_pnm(bytes)) done_ = true;
            break;
        default: rest(bytes); break;
    }
    return true;
}

bool ImageStreamReader::more() {
    if (done_) return false;
    const int kind = next_kind();
    return single_ ? kind == 'N' : kind == 'P' || kind == 'J' || kind == 'N';
}

void ImageStreamReader::rest(std::vector<uint8_t>& out) {
    in_->copy(UINT64_MAX, out);
    done_ = true;
}

void ImageStreamReader::frame_png(std::vector<uint8_t>& out) {
    Buf& b = *in_;
    if (b.copy(8, out) < 8) return;
    for (;;) {
        const size_t at = out.size();
        if (b.copy(8, out) < 8) return;  // truncated: decode_png says so
        const uint8_t* h = out.data() + at;
        const uint32_t length = (uint32_t(h[0]) << 24) | (uint32_t(h[1]) << 16) | (uint32_t(h[2]) << 8) | h[3];
        const bool iend = std::memcmp(h + 4, "IEND", 4) == 0, ihdr = std::memcmp(h + 4, "IHDR", 4) == 0;
        if (length > 0x7fffffffU) {  // not PNG any more: the decoder reports the rest
            rest(out);
            return;
        }
        if (b.copy(uint64_t(length) + 4, out) < uint64_t(length) + 4) return;
        if (ihdr && length >= 8) {
            const uint8_t* d = out.data() + at + 8;
            const uint64_t w = (uint32_t(d[0]) << 24) | (uint32_t(d[1]) << 16) | (uint32_t(d[2]) << 8) | d[3];
            const uint64_t hh = (uint32_t(d[4]) << 24) | (uint32_t(d[5]) << 16) | (uint32_t(d[6]) << 8) | d[7];
            if (w * hh > limits_.max_pixels) {  // refused from its header: read no further
                done_ = true;
                return;
            }
        }
        if (iend) return;
    }
}

void ImageStreamReader::frame_jpeg(std::vector<uint8_t>& out) {
    Buf& b = *in_;
    if (b.copy(2, out) < 2) return;  // SOI
    int m = -1;
    for (;;) {
        if (m < 0) {  // the next marker (bytes before it are junk that libjpeg skips with a warning)
            if (!b.copy_through_ff(out)) return;
            int c;
            do {
                if ((c = b.get(out)) < 0) return;
            } while (c == 0xFF);
            m = c;
        }
        const int marker = m;
        m = -1;
        if (marker == 0xD9) return;  // EOI
        if (marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) continue;  // no length
        const int hi = b.get(out), lo = b.get(out);
        if (lo < 0) return;
        const int length = (hi << 8) | lo;
        if (length < 2) {  // not JPEG any more: the decoder reports the rest
            rest(out);
            return;
        }
        if (b.copy(length - 2, out) < uint64_t(length - 2)) return;
        if (marker != 0xDA) continue;
        // Entropy-coded data: up to a marker other than RSTn; 0xFF 0x00 is a data byte.
        for (;;) {
            if (!b.copy_through_ff(out)) return;
            int d;
            do {
                if ((d = b.get(out)) < 0) return;
            } while (d == 0xFF);
            if (d == 0x00 || (d >= 0xD0 && d <= 0xD7)) continue;
            m = d;
            break;
        }
    }
}

bool ImageStreamReader::frame_pnm(std::vector<uint8_t>& out) {
    Buf& b = *in_;
    PnmHeader h;
    std::string reason;
    size_t window = 64;
    int r;
    for (;;) {
        const size_t have = b.want(window);
        r = parse_pnm_header(b.buf.data() + b.pos, std::min(have, window), h, reason);
        if (r != 0 || have < window) break;  // done, or the input ended inside the header
        window *= 2;
    }
    if (r != 1) {  // corrupt or cut header: the decoder reports it
        rest(out);
        return false;
    }
    b.copy(h.header_bytes, out);
    if (h.width == 0 || h.height == 0 || h.width > 0x7fffffffULL || h.height > 0x7fffffffULL ||
        h.width * h.height > limits_.max_pixels)
        return false;  // refused from its header by decode_pnm: read no further
    const uint64_t raster = h.raster_bytes();
    return b.copy(raster, out) == raster;
}

std::string stream_image_name(const std::string& path, size_t n) {
    std::string num = std::to_string(n);
    if (num.size() < 4) num.insert(0, 4 - num.size(), '0');
    if (path == "-") return "stdin-" + num;
    const size_t slash = path.find_last_of('/');
    const size_t dot = path.find_last_of('.');
    const size_t base = slash == std::string::npos ? 0 : slash + 1;
    if (dot == std::string::npos || dot <= base) return path + "-" + num;
    return path.substr(0, dot) + "-" + num + path.substr(dot);
}

}  // namespace scvae
