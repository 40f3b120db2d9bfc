// pnm.cpp - raw netpbm images: P4 (PBM), P5 (PGM), P6 (PPM) and P7 (PAM), as netpbm(5), pgm(5), ppm(5) and
// pam(5) describe them. No library: the formats are a text header and a raster of big-endian samples.
#include "image/pnm.h"

#include <algorithm>
#include <cstring>

#include "scvae/error.h"

namespace scvae {

namespace {

bool is_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

constexpr size_t kMaxHeader = 65536;
constexpr uint64_t kBig = 1ULL << 40;  // numbers are capped here while parsing (enough to say "too large")

// Header tokens of P4/P5/P6: whitespace and '#' comments (to the end of the line) between numbers.
// Returns 1 and the number, 0 when the data ends first, -1 when the next thing is not a number.
int next_number(const uint8_t* d, size_t size, size_t& pos, uint64_t& value) {
    for (;;) {
        if (pos >= size) return 0;
        if (is_space(d[pos])) {
            ++pos;
        } else if (d[pos] == '#') {
            while (pos < size && d[pos] != '\n' && d[pos] != '\r') ++pos;
            if (pos >= size) return 0;
        } else {
            break;
        }
    }
    if (d[pos] < '0' || d[pos] > '9') return -1;
    value = 0;
    while (pos < size && d[pos] >= '0' && d[pos] <= '9') {
        value = std::min<uint64_t>(value * 10 + (d[pos] - '0'), kBig);
        ++pos;
    }
    if (pos >= size) return 0;  // the number may go on
    return 1;
}

int parse_classic(const uint8_t* d, size_t size, PnmHeader& h, std::string& reason) {
    size_t pos = 2;
    uint64_t v[3] = {0, 0, 1};
    const int count = h.kind == 4 ? 2 : 3;
    static const char* what[3] = {"width", "height", "maxval"};
    for (int i = 0; i < count; ++i) {
        int r = next_number(d, size, pos, v[i]);
        if (r == 0) return 0;
        if (r < 0) {
            reason = std::string("corrupt netpbm header (no ") + what[i] + ")";
            return -1;
        }
    }
    // Exactly one whitespace character ends the header.
    if (!is_space(d[pos])) {
        reason = "corrupt netpbm header (no whitespace after the " + std::string(what[count - 1]) + ")";
        return -1;
    }
    h.width = v[0];
    h.height = v[1];
    h.maxval = h.kind == 4 ? 1 : v[2];
    h.depth = h.kind == 6 ? 3 : 1;
    h.header_bytes = pos + 1;
    return 1;
}

int parse_pam(const uint8_t* d, size_t size, PnmHeader& h, std::string& reason) {
    size_t pos = 2;
    bool have_w = false, have_h = false, have_d = false, have_m = false;
    for (;;) {
        // one line
        size_t eol = pos;
        while (eol < size && d[eol] != '\n') ++eol;
        if (eol >= size) return 0;
        std::string line(reinterpret_cast<const char*>(d + pos), eol - pos);
        pos = eol + 1;
        size_t a = 0;
        while (a < line.size() && is_space(static_cast<uint8_t>(line[a]))) ++a;
        if (a == line.size() || line[a] == '#') continue;
        size_t b = a;
        while (b < line.size() && !is_space(static_cast<uint8_t>(line[b]))) ++b;
        const std::string key = line.substr(a, b - a);
        while (b < line.size() && is_space(static_cast<uint8_t>(line[b]))) ++b;
        std::string rest = line.substr(b);
        while (!rest.empty() && is_space(static_cast<uint8_t>(rest.back()))) rest.pop_back();
        if (key == "ENDHDR") break;
        if (key == "TUPLTYPE") {
            h.tupltype += (h.tupltype.empty() ? "" : " ") + rest;
            continue;
        }
        uint64_t* target = key == "WIDTH" ? &h.width : key == "HEIGHT" ? &h.height : key == "DEPTH" ? &h.depth
                         : key == "MAXVAL" ? &h.maxval : nullptr;
        if (!target) {
            reason = "corrupt PAM header (unknown line \"" + key + "\")";
            return -1;
        }
        if (rest.empty() || rest.find_first_not_of("0123456789") != std::string::npos) {
            reason = "corrupt PAM header (" + key + " is not a number)";
            return -1;
        }
        uint64_t v = 0;
        for (char c : rest) v = std::min<uint64_t>(v * 10 + (c - '0'), kBig);
        *target = v;
        (key == "WIDTH" ? have_w : key == "HEIGHT" ? have_h : key == "DEPTH" ? have_d : have_m) = true;
    }
    if (!have_w || !have_h || !have_d || !have_m) {
        reason = std::string("corrupt PAM header (no ") +
                 (!have_w ? "WIDTH" : !have_h ? "HEIGHT" : !have_d ? "DEPTH" : "MAXVAL") + ")";
        return -1;
    }
    h.header_bytes = pos;
    return 1;
}

void check_limits(const std::string& name, const PnmHeader& h, const ImageLimits& limits) {
    if (h.width == 0 || h.height == 0)
        throw error_at(name, "invalid image size (" + std::to_string(h.width) + "x" + std::to_string(h.height) + ")");
    if (h.width > 0x7fffffffULL || h.height > 0x7fffffffULL || h.width * h.height > limits.max_pixels)
        throw error_at(name, "image too large (" + std::to_string(h.width) + "x" + std::to_string(h.height) +
                                 " pixels, limit " + std::to_string(limits.max_pixels) + ")");
}

}  // namespace

bool is_pnm_magic(const uint8_t* data, size_t size) {
    return data && size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '7';
}

uint64_t PnmHeader::raster_bytes() const {
    if (width > kBig || height > kBig || depth > kBig) return UINT64_MAX;
    if (kind == 4) {
        const uint64_t row = (width + 7) / 8;
        return row > UINT64_MAX / std::max<uint64_t>(height, 1) ? UINT64_MAX : row * height;
    }
    const uint64_t bytes = maxval > 255 ? 2 : 1;
    const uint64_t wh = width * height;  // < 2^80 would overflow: both are < 2^40 but the product is checked
    if (height != 0 && wh / height != width) return UINT64_MAX;
    const uint64_t per = depth * bytes;
    if (per != 0 && wh > UINT64_MAX / per) return UINT64_MAX;
    return wh * per;
}

int parse_pnm_header(const uint8_t* data, size_t size, PnmHeader& h, std::string& reason) {
    h = PnmHeader();
    if (size < 2) return 0;
    if (!is_pnm_magic(data, size)) {
        reason = "not a netpbm file";
        return -1;
    }
    h.kind = data[1] - '0';
    if (h.kind <= 3) {
        reason = std::string("plain (ASCII) netpbm P") + char('0' + h.kind) +
                 " is not supported (netpbm programs write the raw form unless given -plain)";
        return -1;
    }
    int r = h.kind == 7 ? parse_pam(data, std::min(size, kMaxHeader), h, reason)
                        : parse_classic(data, std::min(size, kMaxHeader), h, reason);
    if (r == 0 && size >= kMaxHeader) {
        reason = "corrupt netpbm header (longer than 65536 bytes)";
        return -1;
    }
    if (r != 1) return r;
    if (h.maxval < 1 || h.maxval > 65535) {
        reason = "unsupported netpbm maxval " + std::to_string(h.maxval) + " (1 to 65535)";
        return -1;
    }
    if (h.kind == 7 && (h.depth < 1 || h.depth > 4)) {
        reason = "unsupported PAM depth " + std::to_string(h.depth) + " (1 to 4 channels)";
        return -1;
    }
    return 1;
}

Image decode_pnm(const uint8_t* data, size_t size, const std::string& name, const ImageLimits& limits) {
    PnmHeader h;
    std::string reason;
    const int r = parse_pnm_header(data, size, h, reason);
    if (r < 0) throw error_at(name, reason);
    if (r == 0) throw error_at(name, "truncated netpbm file (the header is cut off)");
    check_limits(name, h, limits);
    const uint64_t need = h.raster_bytes();
    const uint64_t have = size - h.header_bytes;
    if (have < need)
        throw error_at(name, "truncated netpbm file (expected " + std::to_string(need) + " bytes of pixels, got " +
                                 std::to_string(have) + ")");
    Image img;
    img.width = static_cast<int>(h.width);
    img.height = static_cast<int>(h.height);
    img.channels = static_cast<int>(h.depth);
    img.bit_depth = h.maxval > 255 ? 16 : 8;
    img.data.resize(img.pixels() * img.channels);
    const uint8_t* p = data + h.header_bytes;
    float* out = img.data.data();
    if (h.kind == 4) {  // 1 = black
        const size_t row = (h.width + 7) / 8;
        for (uint64_t y = 0; y < h.height; ++y)
            for (uint64_t x = 0; x < h.width; ++x)
                *out++ = (p[y * row + x / 8] >> (7 - x % 8)) & 1 ? 0.0f : 1.0f;
        return img;
    }
    const size_t n = img.data.size();
    const float maxval = static_cast<float>(h.maxval);
    const uint32_t mv = static_cast<uint32_t>(h.maxval);
    // v / maxval, divided (not multiplied by 1/maxval) so that maxval 255 and 65535 give exactly the floats a
    // PNG of the same 8- or 16-bit samples gives.
    if (h.maxval <= 255) {
        for (size_t i = 0; i < n; ++i) {
            if (p[i] > mv)
                throw error_at(name, "corrupt netpbm file (sample " + std::to_string(p[i]) + " above maxval " +
                                         std::to_string(mv) + ")");
            out[i] = static_cast<float>(p[i]) / maxval;
        }
    } else {
        for (size_t i = 0; i < n; ++i) {
            const uint32_t v = (uint32_t(p[2 * i]) << 8) | p[2 * i + 1];
            if (v > mv)
                throw error_at(name, "corrupt netpbm file (sample " + std::to_string(v) + " above maxval " +
                                         std::to_string(mv) + ")");
            out[i] = static_cast<float>(v) / maxval;
        }
    }
    return img;
}

std::vector<uint8_t> encode_pnm(const Image& img, bool pam, int bit_depth) {
    const int ch = img.channels;
    const int out_ch = pam ? ch : (ch <= 2 ? 1 : 3);
    const bool wide = bit_depth == 16;
    const uint32_t maxval = wide ? 65535 : 255;
    std::string header;
    if (pam) {
        static const char* types[5] = {"", "GRAYSCALE", "GRAYSCALE_ALPHA", "RGB", "RGB_ALPHA"};
        header = "P7\nWIDTH " + std::to_string(img.width) + "\nHEIGHT " + std::to_string(img.height) + "\nDEPTH " +
                 std::to_string(ch) + "\nMAXVAL " + std::to_string(maxval) + "\nTUPLTYPE " + types[ch] + "\nENDHDR\n";
    } else {
        header = std::string(out_ch == 1 ? "P5\n" : "P6\n") + std::to_string(img.width) + " " +
                 std::to_string(img.height) + "\n" + std::to_string(maxval) + "\n";
    }
    const size_t np = img.pixels();
    std::vector<uint8_t> out(header.begin(), header.end());
    const size_t start = out.size();
    out.resize(start + np * out_ch * (wide ? 2 : 1));
    uint8_t* d = out.data() + start;
    for (size_t i = 0; i < np; ++i) {
        for (int c = 0; c < out_ch; ++c) {
            const float v = img.data[i * ch + c];
            // as the PNG writer rounds: v * maxval + 0.5, clamped; NaN gives 0
            const float s = v * static_cast<float>(maxval) + 0.5f;
            const uint32_t q = !(s > 0.0f) ? 0 : s >= static_cast<float>(maxval) ? maxval : static_cast<uint32_t>(s);
            if (wide) {
                *d++ = static_cast<uint8_t>(q >> 8);
                *d++ = static_cast<uint8_t>(q & 0xff);
            } else {
                *d++ = static_cast<uint8_t>(q);
            }
        }
    }
    return out;
}

}  // namespace scvae
