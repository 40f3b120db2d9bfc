// codes.cpp - the sparse-code stream (binary "SCVC" records and their JSON Lines twin).
//
// The byte layout is documented in man/scvae-codes.5; keep the two in step. In short (little-endian):
//
//   0   "SCVC"            4 bytes magic
//   4   u16 major, u16 minor
//   8   u32 flags         bit 0: values are IEEE binary16; bits 1-15 must be understood; 16-31 may be ignored
//   12  u32 L             header length (bytes that follow, up to the CSR arrays)
//   16  header (L bytes): fingerprint[8], n, K, d, width, height, channels, pad_right, pad_bottom,
//                         grid_h, grid_w, nnz, name_len (u32 each), name bytes, [fields of later minors]
//   16+L row_ptr u32[P+1], indices u16[nnz], values f32|f16[nnz], u32 CRC-32 of every byte before it.
#include "scvae/codes.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "io/bytes.h"
#include "scvae/error.h"

namespace scvae {

namespace {

constexpr char kMagic[4] = {'S', 'C', 'V', 'C'};
constexpr size_t kPreambleSize = 16;      // magic, version, flags, header length
constexpr size_t kFixedHeaderSize = 56;   // fingerprint .. name length
constexpr uint32_t kFlagHalf = 1u;
constexpr uint32_t kFlagsMustUnderstand = 0x0000ffffu;
constexpr uint32_t kMaxSourceLength = 4096;
constexpr uint32_t kMaxHeaderLength = 65536;
constexpr uint64_t kMaxPositions = uint64_t(1) << 26;
constexpr uint32_t kMaxK = 65536;
constexpr uint32_t kMaxN = 65536;
constexpr uint32_t kMaxD = 16;
constexpr uint64_t kMaxImagePixels = 100'000'000;  // the image loaders' default limit
constexpr float kMaxValue = kMaxCodeValue;
constexpr size_t kMaxJsonLine = size_t(1) << 30;

constexpr bool kLittleEndian = bytes::kLittleEndianHost;

using bytes::le16;
using bytes::le32;
using bytes::read_array;

// The SCVC header after the 8-byte fingerprint, in file order, u32 each; the JSON twin's field names are the
// same. Then come nnz and the source name's length (u32 each) and the name's bytes. Reader and writer both
// walk this table.
struct HeaderField {
    const char* name;
    uint32_t CodeRecord::*member;
};
constexpr HeaderField kHeaderFields[] = {
    {"n", &CodeRecord::n},
    {"K", &CodeRecord::K},
    {"d", &CodeRecord::d},
    {"image.width", &CodeRecord::image_width},
    {"image.height", &CodeRecord::image_height},
    {"image.channels", &CodeRecord::image_channels},
    {"pad.right", &CodeRecord::pad_right},
    {"pad.bottom", &CodeRecord::pad_bottom},
    {"grid.h", &CodeRecord::grid_h},
    {"grid.w", &CodeRecord::grid_w},
};
constexpr size_t kHeaderFieldCount = sizeof(kHeaderFields) / sizeof(kHeaderFields[0]);
static_assert(kFixedHeaderSize == 8 + 4 * (kHeaderFieldCount + 2), "fingerprint, the fields, nnz, name length");

// The fixed header's fields read from `h` (the bytes after the preamble) into `rec`; returns nnz and the
// source name's length.
void read_header_fields(const uint8_t* h, CodeRecord& rec, uint32_t& nnz, uint32_t& name_len) {
    const uint8_t* p = h + 8;
    for (const HeaderField& f : kHeaderFields) {
        rec.*f.member = le32(p);
        p += 4;
    }
    nnz = le32(p);
    name_len = le32(p + 4);
}

std::string hex8(uint32_t v) {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", v);
    return buf;
}

bool is_fingerprint(const std::string& s) {
    if (s.size() != 16) return false;
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

void fingerprint_to_bytes(const std::string& fp, uint8_t out[8]) {
    auto nib = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
    for (int i = 0; i < 8; ++i) out[i] = uint8_t(nib(fp[2 * i]) << 4 | nib(fp[2 * i + 1]));
}

std::string fingerprint_from_bytes(const uint8_t* b) {
    static const char* digits = "0123456789abcdef";
    std::string s(16, '0');
    for (int i = 0; i < 8; ++i) {
        s[2 * i] = digits[b[i] >> 4];
        s[2 * i + 1] = digits[b[i] & 15];
    }
    return s;
}

std::string float_text(float v) {
    if (v == 0.0f) return std::signbit(v) ? "-0.0" : "0";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back to the same float
    return std::string(buf, r.ptr);
}

std::string position_text(size_t p) { return std::to_string(p); }

// The reasons validate() gives, without a name prefix; "" when the record is consistent.
std::string check_record(const CodeRecord& r) {
    if (!is_fingerprint(r.fingerprint))
        return "bad fingerprint '" + r.fingerprint + "' (expected 16 lowercase hexadecimal digits)";
    if (r.n < 1 || r.n > kMaxN) return "n=" + std::to_string(r.n) + " out of range (1.." + std::to_string(kMaxN) + ")";
    if (r.K < 1 || r.K > kMaxK) return "K=" + std::to_string(r.K) + " out of range (1.." + std::to_string(kMaxK) + ")";
    if (r.d > kMaxD) return "d=" + std::to_string(r.d) + " out of range (0.." + std::to_string(kMaxD) + ")";
    if (r.image_channels != 1 && r.image_channels != 3)
        return "image channels " + std::to_string(r.image_channels) + " out of range (1 or 3)";
    if (r.image_width < 1 || r.image_height < 1 || uint64_t(r.image_width) * r.image_height > kMaxImagePixels)
        return "image size " + std::to_string(r.image_width) + "x" + std::to_string(r.image_height) +
               " out of range (1.." + std::to_string(kMaxImagePixels) + " pixels)";
    {
        const uint64_t f = uint64_t(1) << r.d;
        if (r.pad_right >= f || r.pad_bottom >= f || uint64_t(r.grid_w) * f != uint64_t(r.image_width) + r.pad_right ||
            uint64_t(r.grid_h) * f != uint64_t(r.image_height) + r.pad_bottom)
            return "grid " + std::to_string(r.grid_w) + "x" + std::to_string(r.grid_h) + " does not fit image size " +
                   std::to_string(r.image_width) + "x" + std::to_string(r.image_height) + " with padding " +
                   std::to_string(r.pad_right) + "," + std::to_string(r.pad_bottom) + " for d=" +
                   std::to_string(r.d);
    }
    if (r.source.size() > kMaxSourceLength)
        return "source name of " + std::to_string(r.source.size()) + " bytes is too long (at most " +
               std::to_string(kMaxSourceLength) + ")";
    const uint64_t positions = uint64_t(r.grid_h) * r.grid_w;
    if (positions > kMaxPositions)
        return "grid " + std::to_string(r.grid_h) + "x" + std::to_string(r.grid_w) + " is too large (at most " +
               std::to_string(kMaxPositions) + " positions)";
    if (r.row_ptr.size() != positions + 1)
        return "row_ptr has " + std::to_string(r.row_ptr.size()) + " entries, expected " +
               std::to_string(positions + 1);
    if (r.values.size() != r.indices.size())
        return "values has " + std::to_string(r.values.size()) + " entries, indices " +
               std::to_string(r.indices.size());
    if (r.indices.size() > std::numeric_limits<uint32_t>::max()) return "too many nonzeros";
    if (r.row_ptr[0] != 0) return "row_ptr starts at " + std::to_string(r.row_ptr[0]) + ", expected 0";
    if (r.row_ptr[positions] != r.indices.size())
        return "row_ptr ends at " + std::to_string(r.row_ptr[positions]) + ", expected nnz " +
               std::to_string(r.indices.size());
    const uint32_t* rp = r.row_ptr.data();
    const uint16_t* idx = r.indices.data();
    const float* val = r.values.data();
    for (size_t p = 0; p < positions; ++p) {
        const uint32_t b = rp[p], e = rp[p + 1];
        if (e < b) return "row_ptr decreases at position " + position_text(p);
        // a row_ptr that rises beyond nnz before it falls back (found by fuzz_codes_binary: a read past indices)
        if (e > r.indices.size())
            return "row_ptr exceeds nnz " + std::to_string(r.indices.size()) + " at position " + position_text(p);
        for (uint32_t j = b; j < e; ++j) {
            if (idx[j] >= r.K)
                return "index " + std::to_string(idx[j]) + " >= K (K=" + std::to_string(r.K) + ") at position " +
                       position_text(p);
            if (j > b && idx[j] <= idx[j - 1]) return "indices not ascending at position " + position_text(p);
            if (!std::isfinite(val[j])) return "value is NaN or infinite at position " + position_text(p);
            if (std::fabs(val[j]) > kMaxValue)
                return "value out of range (" + float_text(val[j]) + ", |value| at most 1e15) at position " +
                       position_text(p);
        }
    }
    return "";
}

// Position of nonzero number j (the p with row_ptr[p] <= j < row_ptr[p+1]).
size_t position_of(const std::vector<uint32_t>& row_ptr, size_t j) {
    auto it = std::upper_bound(row_ptr.begin(), row_ptr.end(), uint32_t(j));
    return it == row_ptr.begin() ? 0 : size_t(it - row_ptr.begin()) - 1;
}

// Preamble and header of a binary record (everything before the CSR arrays).
std::vector<uint8_t> binary_head(const CodeRecord& r, bool half) {
    std::vector<uint8_t> b;
    const uint32_t header_len = uint32_t(kFixedHeaderSize + r.source.size());
    b.reserve(kPreambleSize + header_len);
    bytes::Writer w(b);
    w.raw(kMagic, 4);
    w.u16(kCodesVersionMajor);
    w.u16(kCodesVersionMinor);
    w.u32(half ? kFlagHalf : 0u);
    w.u32(header_len);
    uint8_t fp[8];
    fingerprint_to_bytes(r.fingerprint, fp);
    w.raw(fp, 8);
    for (const HeaderField& f : kHeaderFields) w.u32(r.*f.member);
    w.u32(uint32_t(r.indices.size()));
    w.u32(uint32_t(r.source.size()));
    w.raw(r.source.data(), r.source.size());
    return b;
}

// Array conversions: the F16C instructions where the CPU has them (same results: round to nearest even,
// subnormals kept), else the portable functions below.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx,f16c"))) void floats_to_halves_f16c(const float* in, uint16_t* out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
    }
    for (; i < n; ++i) out[i] = float_to_half(in[i]);
}
__attribute__((target("avx,f16c"))) void halves_to_floats_f16c(const uint16_t* in, float* out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i))));
    for (; i < n; ++i) out[i] = half_to_float(in[i]);
}
bool have_f16c() {
    // F16C from CPUID leaf 1 (clang 14's __builtin_cpu_supports does not know "f16c")
    static const bool yes = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        return __builtin_cpu_supports("avx") && __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
    }();
    return yes;
}
#else
bool have_f16c() { return false; }
void floats_to_halves_f16c(const float*, uint16_t*, size_t) {}
void halves_to_floats_f16c(const uint16_t*, float*, size_t) {}
#endif

void floats_to_halves(const float* in, uint16_t* out, size_t n) {
    if (have_f16c()) return floats_to_halves_f16c(in, out, n);
    for (size_t i = 0; i < n; ++i) out[i] = float_to_half(in[i]);
}

void halves_to_floats(const uint16_t* in, float* out, size_t n) {
    if (have_f16c()) return halves_to_floats_f16c(in, out, n);
    for (size_t i = 0; i < n; ++i) out[i] = half_to_float(in[i]);
}

std::vector<uint16_t> to_half_array(const std::vector<float>& v) {
    std::vector<uint16_t> h(v.size());
    floats_to_halves(v.data(), h.data(), v.size());
    return h;
}

// Why a record's values do not fit binary16 (its converted values `h` hold an infinity); "" if they do.
std::string half_overflow(const CodeRecord& r, const std::vector<uint16_t>& h) {
    for (size_t j = 0; j < h.size(); ++j)
        if ((h[j] & 0x7c00) == 0x7c00)
            return "value " + float_text(r.values[j]) + " at position " + position_text(position_of(r.row_ptr, j)) +
                   " does not fit half precision (largest finite value 65504)";
    return "";
}

// The whole binary record, pieces kept apart so the writer can fwrite the big arrays straight from the record.
struct BinaryParts {
    std::vector<uint8_t> head;
    std::vector<uint16_t> half_values;  // only in half mode
    uint32_t crc = 0;
};

BinaryParts binary_parts(const CodeRecord& r, bool half) {
    BinaryParts parts;
    parts.head = binary_head(r, half);
    bytes::Crc32 crc;
    crc.update(parts.head.data(), parts.head.size());
    crc.update_array(r.row_ptr);
    crc.update_array(r.indices);
    if (half) {
        parts.half_values = to_half_array(r.values);
        crc.update_array(parts.half_values);
    } else {
        crc.update_array(r.values);
    }
    parts.crc = crc.value();
    return parts;
}

// The source name as it appears in JSON: invalid UTF-8 sequences become U+FFFD.
std::string json_safe_source(const std::string& s) {
    try {
        (void)nlohmann::json(s).dump();
        return s;
    } catch (const nlohmann::json::type_error&) {
        return nlohmann::json::parse(nlohmann::json(s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
            .get<std::string>();
    }
}

template <class T>
void append_int(std::string& out, T v) {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

template <class T>
void append_int_array(std::string& out, const std::vector<T>& v) {
    out += '[';
    for (size_t i = 0; i < v.size(); ++i) {
        if (i) out += ',';
        append_int(out, v[i]);
    }
    out += ']';
}

// One JSON line (with its newline). `r` must be valid; in half mode its values are rounded here.
std::string json_line(const CodeRecord& r, bool half) {
    CodeRecord safe_copy;
    const CodeRecord* rec = &r;
    const std::string source = json_safe_source(r.source);
    if (source != r.source) {  // the checksum covers the record as written
        safe_copy = r;
        safe_copy.source = source;
        rec = &safe_copy;
    }
    const BinaryParts parts = binary_parts(*rec, half);
    std::string out;
    out.reserve(256 + r.source.size() + r.row_ptr.size() * 6 + r.indices.size() * 20);
    out += "{\"format\":\"scvae-codes\",\"version\":\"";
    append_int(out, kCodesVersionMajor);
    out += '.';
    append_int(out, kCodesVersionMinor);
    out += "\",\"fingerprint\":\"" + r.fingerprint + "\"";
    // the integer fields, each after the text that leads to it
    auto fields = [&](std::initializer_list<std::pair<const char*, uint64_t>> list) {
        for (const auto& [text, value] : list) {
            out += text;
            append_int(out, value);
        }
    };
    fields({{",\"n\":", r.n}, {",\"K\":", r.K}, {",\"d\":", r.d}});
    out += ",\"source\":" + nlohmann::json(source).dump();
    fields({{",\"image\":{\"width\":", r.image_width}, {",\"height\":", r.image_height},
            {",\"channels\":", r.image_channels}, {"},\"pad\":{\"right\":", r.pad_right},
            {",\"bottom\":", r.pad_bottom}, {"},\"grid\":{\"h\":", r.grid_h}, {",\"w\":", r.grid_w}});
    out += half ? "},\"half\":true,\"nnz\":" : "},\"half\":false,\"nnz\":";
    append_int(out, r.indices.size());
    out += ",\"row_ptr\":";
    append_int_array(out, r.row_ptr);
    out += ",\"indices\":";
    append_int_array(out, r.indices);
    out += ",\"values\":[";
    for (size_t i = 0; i < r.values.size(); ++i) {
        if (i) out += ',';
        out += float_text(half ? half_to_float(parts.half_values[i]) : r.values[i]);
    }
    out += "],\"crc32\":\"" + hex8(parts.crc) + "\"}\n";
    return out;
}

// A record checked and turned into binary pieces; `why` says why it cannot be written ("" if it can).
struct Prepared {
    std::string why;
    BinaryParts parts;
};
Prepared prepare(const CodeRecord& r, bool half) {
    Prepared p;
    p.why = check_record(r);
    if (!p.why.empty()) return p;
    p.parts = binary_parts(r, half);
    if (half) p.why = half_overflow(r, p.parts.half_values);
    return p;
}

// ---- JSON reading: a SAX handler that fills the record's arrays directly and keeps the scalars by path ----

struct JsonField {
    enum Kind { UInt, Number, String, Bool, Null, Structure } kind = Null;
    JsonField() = default;
    explicit JsonField(Kind k) : kind(k) {}
    uint64_t u = 0;
    std::string s;
    bool b = false;
};

class JsonRecordSax {
public:
    using json = nlohmann::json;
    explicit JsonRecordSax(CodeRecord& rec) : rec_(rec) {}

    std::map<std::string, JsonField> fields;  // "n", "image.width", ...
    std::string error;                        // first problem found (SAX stops there)
    bool seen_row_ptr = false, seen_indices = false, seen_values = false;
    size_t bad_index_at = SIZE_MAX;           // first index > 65535
    uint64_t bad_index_value = 0;
    std::string parse_error_text;
    size_t parse_error_pos = 0;

    bool null() { return scalar(JsonField(JsonField::Null)); }
    bool boolean(bool v) {
        JsonField f(JsonField::Bool);
        f.b = v;
        return scalar(std::move(f));
    }
    bool number_integer(json::number_integer_t v) {
        if (array_ != None) return array_number(double(v), nullptr, v < 0 ? -1 : int64_t(v));
        JsonField f(JsonField::Number);
        return scalar(std::move(f));
    }
    bool number_unsigned(json::number_unsigned_t v) {
        if (array_ != None) return array_number(double(v), nullptr, -2, v);
        JsonField f(JsonField::UInt);
        f.u = v;
        return scalar(std::move(f));
    }
    bool number_float(json::number_float_t v, const std::string& text) {
        if (array_ != None) return array_number(v, &text, -1);
        return scalar(JsonField(JsonField::Number));
    }
    bool string(std::string& v) {
        if (array_ != None) return fail("field \"" + top_key_ + "\" must hold numbers only");
        JsonField f(JsonField::String);
        f.s = std::move(v);
        return scalar(std::move(f));
    }
    bool binary(json::binary_t&) { return scalar(JsonField(JsonField::Structure)); }
    bool start_object(std::size_t) {
        if (array_ != None) return fail("field \"" + top_key_ + "\" must hold numbers only");
        stack_.push_back('{');
        ++depth_;
        return true;
    }
    bool key(std::string& k) {
        if (depth_ == 1) {
            top_key_ = k;
            sub_key_.clear();
        } else if (depth_ == 2) {
            sub_key_ = k;
        }
        return true;
    }
    bool end_object() {
        stack_.pop_back();
        --depth_;
        if (depth_ == 1) sub_key_.clear();
        return true;
    }
    bool start_array(std::size_t) {
        if (depth_ == 0) return fail("not a JSON object");
        if (array_ != None) return fail("field \"" + top_key_ + "\" must hold numbers only");
        if (depth_ == 1 && stack_.back() == '{') {
            if (top_key_ == "row_ptr") {
                array_ = RowPtr;
                rec_.row_ptr.clear();
                seen_row_ptr = true;
            } else if (top_key_ == "indices") {
                array_ = Indices;
                rec_.indices.clear();
                seen_indices = true;
                bad_index_at = SIZE_MAX;
            } else if (top_key_ == "values") {
                array_ = Values;
                rec_.values.clear();
                seen_values = true;
            }
        }
        if (array_ == None && depth_ <= 2) fields[path()] = JsonField(JsonField::Structure);
        stack_.push_back('[');
        ++depth_;
        return true;
    }
    bool end_array() {
        stack_.pop_back();
        --depth_;
        if (depth_ == 1) array_ = None;
        return true;
    }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) {
        parse_error_pos = position;
        std::string what = ex.what();
        const auto close = what.find("] ");
        if (what.rfind("[json.exception", 0) == 0 && close != std::string::npos) what = what.substr(close + 2);
        parse_error_text = what;
        return false;
    }

private:
    enum Array { None, RowPtr, Indices, Values };
    CodeRecord& rec_;
    int depth_ = 0;
    std::vector<char> stack_;
    std::string top_key_, sub_key_;
    Array array_ = None;

    std::string path() const { return depth_ == 1 ? top_key_ : top_key_ + "." + sub_key_; }

    bool fail(std::string why) {
        if (error.empty()) error = std::move(why);
        return false;
    }
    bool scalar(JsonField f) {
        if (array_ != None) return fail("field \"" + top_key_ + "\" must hold numbers only");
        if (depth_ == 0) return fail("not a JSON object");
        if (stack_.back() == '{' && depth_ <= 2) fields[path()] = std::move(f);
        return true;
    }
    // A number inside one of the three arrays. sign: -1 negative or fractional, -2 unsigned `u`.
    bool array_number(double v, const std::string* text, int64_t sign, uint64_t u = 0) {
        if (depth_ != 2) return fail("field \"" + top_key_ + "\" must hold numbers only");
        if (array_ == Values) {
            float f = float(v);
            if (text) {  // read the decimal text directly so that it rounds once, exactly as written
                auto r = std::from_chars(text->data(), text->data() + text->size(), f);
                if (r.ec == std::errc::result_out_of_range) f = std::fabs(v) < 1 ? 0.0f : float(INFINITY);
            }
            rec_.values.push_back(f);
            return true;
        }
        if (sign != -2) {
            if (sign >= 0) u = uint64_t(sign);
            else
                return fail("field \"" + top_key_ + "\" must hold non-negative integers");
        }
        if (array_ == RowPtr) {
            if (u > std::numeric_limits<uint32_t>::max())
                return fail("row_ptr entry " + std::to_string(u) + " is too large");
            rec_.row_ptr.push_back(uint32_t(u));
        } else {
            if (u > 0xffff && bad_index_at == SIZE_MAX) {
                bad_index_at = rec_.indices.size();
                bad_index_value = u;
            }
            rec_.indices.push_back(uint16_t(std::min<uint64_t>(u, 0xffff)));
        }
        return true;
    }
};

}  // namespace

// ---- binary16 ----

uint16_t float_to_half(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
    const uint32_t exp = (x >> 23) & 0xffu;
    uint32_t mant = x & 0x7fffffu;
    if (exp == 0xff) {  // infinity or NaN (NaN stays NaN: the quiet bit is set)
        if (mant) return uint16_t(sign | 0x7e00u | (mant >> 13));
        return uint16_t(sign | 0x7c00u);
    }
    const int e = int(exp) - 127 + 15;
    if (e >= 31) return uint16_t(sign | 0x7c00u);  // |f| >= 2^16: infinity
    if (e <= 0) {                                   // a subnormal half (or zero)
        if (e < -10) return sign;                   // |f| < 2^-25: rounds to zero
        mant |= 0x800000u;
        const int shift = 14 - e;  // 14..24
        uint32_t hm = mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1);
        const uint32_t halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (hm & 1))) ++hm;  // may carry into the smallest normal
        return uint16_t(sign | hm);
    }
    uint32_t h = sign | (uint32_t(e) << 10) | (mant >> 13);
    const uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) ++h;  // may carry into the exponent (up to infinity)
    return uint16_t(h);
}

float half_to_float(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else {  // subnormal: normalise
            int e = 1;
            while (!(mant & 0x400u)) {
                mant <<= 1;
                --e;
            }
            mant &= 0x3ffu;
            bits = sign | (uint32_t(e + 127 - 15) << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

// ---- CodeRecord helpers ----

std::vector<float> CodeRecord::dense(size_t position) const {
    if (position >= positions() || position + 1 >= row_ptr.size())
        throw Error("position " + std::to_string(position) + " out of range (" + std::to_string(positions()) +
                    " positions)");
    std::vector<float> out(K, 0.0f);
    for (uint32_t j = row_ptr[position]; j < row_ptr[position + 1] && j < indices.size(); ++j)
        if (indices[j] < K) out[indices[j]] = values[j];
    return out;
}

std::vector<float> CodeRecord::dense_matrix() const {
    const size_t P = positions();
    if (row_ptr.size() != P + 1)
        throw Error("row_ptr has " + std::to_string(row_ptr.size()) + " entries, expected " + std::to_string(P + 1));
    std::vector<float> out(P * size_t(K), 0.0f);
    for (size_t p = 0; p < P; ++p) {
        float* row = out.data() + p * K;
        for (uint32_t j = row_ptr[p]; j < row_ptr[p + 1] && j < indices.size(); ++j)
            if (indices[j] < K) row[indices[j]] = values[j];
    }
    return out;
}

void CodeRecord::set_dense(const float* dense, size_t positions, uint32_t K_) {
    K = K_;
    row_ptr.assign(1, 0);
    row_ptr.reserve(positions + 1);
    indices.clear();
    values.clear();
    for (size_t p = 0; p < positions; ++p) {
        const float* row = dense + p * K_;
        for (uint32_t k = 0; k < K_; ++k) {
            if (row[k] != 0.0f) {
                indices.push_back(uint16_t(k));
                values.push_back(row[k]);
            }
        }
        row_ptr.push_back(uint32_t(indices.size()));
    }
}

void CodeRecord::validate() const {
    const std::string why = check_record(*this);
    if (!why.empty()) throw Error(why);
}

// ---- writing ----

std::vector<uint8_t> serialize_record(const CodeRecord& rec, const CodeWriterOptions& opt) {
    Prepared prep = prepare(rec, opt.half);
    if (!prep.why.empty()) throw Error(prep.why);
    if (opt.encoding == CodesEncoding::Json) {
        const std::string line = json_line(rec, opt.half);
        return std::vector<uint8_t>(line.begin(), line.end());
    }
    BinaryParts& parts = prep.parts;
    std::vector<uint8_t> out = std::move(parts.head);
    bytes::Writer w(out);
    w.array(rec.row_ptr);
    w.array(rec.indices);
    if (opt.half)
        w.array(parts.half_values);
    else
        w.array(rec.values);
    w.u32(parts.crc);
    return out;
}

CodeWriter::CodeWriter(FILE* f, std::string name, CodeWriterOptions opt)
    : f_(f), name_(std::move(name)), opt_(opt) {}

void CodeWriter::write(const CodeRecord& rec) {
    const Prepared prep = prepare(rec, opt_.half);
    if (!prep.why.empty()) throw Error(name_ + ": record " + std::to_string(count_ + 1) + ": " + prep.why);
    auto put = [&](const void* data, size_t size) {
        if (size == 0) return;
        if (std::fwrite(data, 1, size, f_) != size)
            throw Error(name_ + ": " + (errno ? std::strerror(errno) : "write error"));
        bytes_ += size;
    };
    errno = 0;
    if (opt_.encoding == CodesEncoding::Json) {
        const std::string line = json_line(rec, opt_.half);
        put(line.data(), line.size());
    } else if constexpr (kLittleEndian) {
        const BinaryParts& parts = prep.parts;
        put(parts.head.data(), parts.head.size());
        put(rec.row_ptr.data(), rec.row_ptr.size() * 4);
        put(rec.indices.data(), rec.indices.size() * 2);
        if (opt_.half)
            put(parts.half_values.data(), parts.half_values.size() * 2);
        else
            put(rec.values.data(), rec.values.size() * 4);
        uint8_t crc[4];
        for (int i = 0; i < 4; ++i) crc[i] = uint8_t(parts.crc >> (8 * i));
        put(crc, 4);
    } else {
        const std::vector<uint8_t> bytes = serialize_record(rec, opt_);
        put(bytes.data(), bytes.size());
    }
    ++count_;
}

void check_code_values(const float* values, size_t count, const std::string& what) {
    for (size_t i = 0; i < count; ++i)
        if (!std::isfinite(values[i]) || std::fabs(values[i]) > kMaxValue)
            throw Error(what + ": value out of range (" + float_text(values[i]) + ", |value| at most 1e15) at index " +
                        std::to_string(i));
}

// ---- reading ----

struct CodeReader::State {
    std::vector<uint8_t> head;
    std::vector<uint16_t> half_values;
    std::string line;
    std::string error;  // sticky: next() after an error repeats it
};

CodeReader::CodeReader(FILE* f, std::string name) : f_(f), name_(std::move(name)), st_(new State) {}
CodeReader::~CodeReader() = default;

namespace {

struct RecordError {
    std::string reason;
};

[[noreturn]] void record_fail(std::string reason) { throw RecordError{std::move(reason)}; }

std::string truncated(uint64_t expected, uint64_t got, bool at_least = false) {
    return "truncated record (expected " + std::string(at_least ? "at least " : "") + std::to_string(expected) +
           " bytes, got " + std::to_string(got) + ")";
}

}  // namespace

void CodeReader::io_error() {
    st_->error = name_ + ": " + std::strerror(errno ? errno : EIO);
    throw Error(st_->error);
}

// A JSON Lines record: one line, parsed by JsonRecordSax, then the same checks as a binary record.
void CodeReader::read_json(CodeRecord& rec, bool first) {
    State& st = *st_;
    uint64_t consumed = 0;  // bytes of this record
    enc_ = CodesEncoding::Json;
    std::string& line = st.line;
    line.clear();
    bool newline = false;
    int ch;
    while ((ch = getc_unlocked(f_)) != EOF) {
        ++consumed;
        if (ch == '\n') {
            newline = true;
            break;
        }
        line.push_back(char(ch));
        if (line.size() > kMaxJsonLine) {
            bytes_ += consumed;
            record_fail("JSON line longer than " + std::to_string(kMaxJsonLine) + " bytes");
        }
    }
    if (ch == EOF && std::ferror(f_)) io_error();
    bytes_ += consumed;
    JsonRecordSax sax(rec);
    const bool ok = nlohmann::json::sax_parse(line, &sax);
    if (!ok) {
        if (!sax.error.empty()) record_fail(sax.error);
        // A line without its newline whose JSON breaks off at the very end: the stream was cut.
        if (!newline && sax.parse_error_pos > line.size())
            record_fail("truncated record (JSON line cut off at end of stream)");
        record_fail("invalid JSON: " + sax.parse_error_text);
    }
    auto& F = sax.fields;
    auto get_string = [&](const char* key, bool required) -> const std::string* {
        auto it = F.find(key);
        if (it == F.end()) {
            if (required) record_fail(std::string("missing field \"") + key + "\"");
            return nullptr;
        }
        if (it->second.kind != JsonField::String) record_fail(std::string("field \"") + key + "\" is not a string");
        return &it->second.s;
    };
    auto get_u32 = [&](const char* key) -> uint32_t {
        auto it = F.find(key);
        if (it == F.end()) record_fail(std::string("missing field \"") + key + "\"");
        if (it->second.kind != JsonField::UInt || it->second.u > std::numeric_limits<uint32_t>::max())
            record_fail(std::string("field \"") + key + "\" is not an integer between 0 and 4294967295");
        return uint32_t(it->second.u);
    };
    const std::string* format = get_string("format", false);
    if (!format || *format != "scvae-codes")
        record_fail(first ? "not a scvae code stream (bad magic: \"format\" is not \"scvae-codes\")"
                          : "bad magic (\"format\" is not \"scvae-codes\")");
    const std::string& version = *get_string("version", true);
    {
        unsigned major = 0, minor = 0;
        const char* b = version.data();
        const char* e = b + version.size();
        auto r1 = std::from_chars(b, e, major);
        bool good = r1.ec == std::errc() && r1.ptr < e && *r1.ptr == '.';
        if (good) {
            auto r2 = std::from_chars(r1.ptr + 1, e, minor);
            good = r2.ec == std::errc() && r2.ptr == e;
        }
        if (!good) record_fail("bad version \"" + version + "\" (expected MAJOR.MINOR)");
        if (major != kCodesVersionMajor)
            record_fail("unsupported format version " + version + " (this scvae reads " +
                        std::to_string(kCodesVersionMajor) + ".x)");
    }
    rec.fingerprint = *get_string("fingerprint", true);
    rec.source = *get_string("source", true);
    for (const HeaderField& f : kHeaderFields) rec.*f.member = get_u32(f.name);
    rec.half = false;
    if (auto it = F.find("half"); it != F.end()) {
        if (it->second.kind != JsonField::Bool) record_fail("field \"half\" is not true or false");
        rec.half = it->second.b;
    }
    if (!sax.seen_row_ptr) record_fail("missing field \"row_ptr\"");
    if (!sax.seen_indices) record_fail("missing field \"indices\"");
    if (!sax.seen_values) record_fail("missing field \"values\"");
    if (F.count("nnz") && get_u32("nnz") != rec.indices.size())
        record_fail("nnz is " + std::to_string(get_u32("nnz")) + " but indices has " +
                    std::to_string(rec.indices.size()) + " entries");
    if (sax.bad_index_at != SIZE_MAX) {
        const bool rp_ok = rec.row_ptr.size() == rec.positions() + 1;
        record_fail("index " + std::to_string(sax.bad_index_value) + " >= K (K=" + std::to_string(rec.K) +
                    ")" + (rp_ok ? " at position " + position_text(position_of(rec.row_ptr, sax.bad_index_at))
                                 : std::string()));
    }
    if (rec.half) {
        st.half_values = to_half_array(rec.values);
        halves_to_floats(st.half_values.data(), rec.values.data(), rec.values.size());
    }
    const std::string why = check_record(rec);
    if (!why.empty()) record_fail(why);
    if (const std::string* crc = get_string("crc32", false)) {
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        if (*crc != hex8(binary_parts(rec, rec.half).crc)) record_fail("checksum mismatch");
#endif
    }
}

// A binary record: preamble, header (kHeaderFields), row_ptr, indices, values, CRC-32 (scvae-codes(5)).
void CodeReader::read_binary(CodeRecord& rec, bool first) {
    State& st = *st_;
    uint64_t consumed = 0;  // bytes of this record
    enc_ = CodesEncoding::Binary;
    std::vector<uint8_t>& head = st.head;
    head.resize(kPreambleSize + kFixedHeaderSize);
    size_t got = std::fread(head.data(), 1, kPreambleSize, f_);
    consumed += got;
    bytes_ += got;
    if (got < kPreambleSize && std::ferror(f_)) io_error();
    if (std::memcmp(head.data(), kMagic, std::min<size_t>(got, 4)) != 0 || got == 0)
        record_fail(first ? "not a scvae code stream (bad magic)" : "bad magic");
    if (got < kPreambleSize) record_fail(truncated(kPreambleSize + kFixedHeaderSize + 8, got, true));
    const uint16_t major = le16(&head[4]), minor = le16(&head[6]);
    if (major != kCodesVersionMajor)
        record_fail("unsupported format version " + std::to_string(major) + "." + std::to_string(minor) +
                    " (this scvae reads " + std::to_string(kCodesVersionMajor) + ".x)");
    const uint32_t flags = le32(&head[8]);
    if (flags & kFlagsMustUnderstand & ~kFlagHalf)
        record_fail("unsupported flags 0x" + hex8(flags) + " (this scvae reads " +
                    std::to_string(kCodesVersionMajor) + ".x)");
    const uint32_t header_len = le32(&head[12]);
    if (header_len < kFixedHeaderSize || header_len > kMaxHeaderLength)
        record_fail("bad header length " + std::to_string(header_len) + " (expected " +
                    std::to_string(kFixedHeaderSize) + ".." + std::to_string(kMaxHeaderLength) + ")");
    got = std::fread(head.data() + kPreambleSize, 1, kFixedHeaderSize, f_);
    consumed += got;
    bytes_ += got;
    if (got < kFixedHeaderSize) {
        if (std::ferror(f_)) io_error();
        record_fail(truncated(kPreambleSize + header_len + 4 + 4, consumed, true));
    }
    const uint8_t* h = head.data() + kPreambleSize;
    uint32_t nnz = 0, name_len = 0;
    read_header_fields(h, rec, nnz, name_len);
    const uint32_t K = rec.K, grid_h = rec.grid_h, grid_w = rec.grid_w;
    if (K < 1 || K > kMaxK)
        record_fail("K=" + std::to_string(K) + " out of range (1.." + std::to_string(kMaxK) + ")");
    if (name_len > kMaxSourceLength)
        record_fail("source name length " + std::to_string(name_len) + " is too long (at most " +
                    std::to_string(kMaxSourceLength) + ")");
    if (kFixedHeaderSize + name_len > header_len)
        record_fail("header length " + std::to_string(header_len) + " is too short for a source name of " +
                    std::to_string(name_len) + " bytes");
    const uint64_t P = uint64_t(grid_h) * grid_w;
    if (P > kMaxPositions)
        record_fail("grid " + std::to_string(grid_h) + "x" + std::to_string(grid_w) +
                    " is too large (at most " + std::to_string(kMaxPositions) + " positions)");
    if (uint64_t(nnz) > P * K)
        record_fail("nnz " + std::to_string(nnz) + " exceeds positions x K (" + std::to_string(P * K) + ")");
    const bool half = flags & kFlagHalf;
    const uint64_t vsize = half ? 2 : 4;
    const uint64_t total = kPreambleSize + uint64_t(header_len) + 4 * (P + 1) + 2 * uint64_t(nnz) +
                           vsize * nnz + 4;
    auto check = [&](uint64_t want, uint64_t have) {
        consumed += have;
        bytes_ += have;
        if (have < want) {
            if (std::ferror(f_)) io_error();
            record_fail(truncated(total, consumed));
        }
    };
    head.resize(kPreambleSize + header_len);
    h = head.data() + kPreambleSize;
    const size_t rest = header_len - kFixedHeaderSize;
    check(rest, std::fread(head.data() + kPreambleSize + kFixedHeaderSize, 1, rest, f_));
    check(4 * (P + 1), read_array(f_, rec.row_ptr, P + 1));
    check(2 * uint64_t(nnz), read_array(f_, rec.indices, nnz));
    if (half) {
        check(2 * uint64_t(nnz), read_array(f_, st.half_values, nnz));
    } else {
        check(4 * uint64_t(nnz), read_array(f_, rec.values, nnz));
    }
    uint8_t crc_bytes[4];
    check(4, std::fread(crc_bytes, 1, 4, f_));
    bytes::Crc32 crc;
    crc.update(head.data(), head.size());
    crc.update_array(rec.row_ptr);
    crc.update_array(rec.indices);
    if (half)
        crc.update_array(st.half_values);
    else
        crc.update_array(rec.values);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    if (crc.value() != le32(crc_bytes)) record_fail("checksum mismatch");
#endif
    if (half) {
        rec.values.resize(nnz);
        halves_to_floats(st.half_values.data(), rec.values.data(), nnz);
    }
    rec.fingerprint = fingerprint_from_bytes(h);
    rec.source.assign(reinterpret_cast<const char*>(h + kFixedHeaderSize), name_len);
    rec.half = half;
    const std::string why = check_record(rec);
    if (!why.empty()) record_fail(why);
}

bool CodeReader::next(CodeRecord& rec) {
    State& st = *st_;
    if (!st.error.empty()) throw Error(st.error);
    const std::string prefix = name_ + ": record " + std::to_string(count_ + 1) + ": ";
    try {
        // Skip whitespace between records; EOF here is a clean end.
        int c;
        while ((c = std::getc(f_)) != EOF && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) ++bytes_;
        if (c == EOF) {
            if (std::ferror(f_)) io_error();
            return false;
        }
        std::ungetc(c, f_);
        const bool first = !sniffed_;
        sniffed_ = true;
        if (c == '{')
            read_json(rec, first);
        else
            read_binary(rec, first);
    } catch (const RecordError& e) {
        st.error = prefix + e.reason;
        throw Error(st.error);
    }
    ++count_;
    return true;
}

}  // namespace scvae
