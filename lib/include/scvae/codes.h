// scvae/codes.h - the sparse-code stream: one self-contained record per image, records concatenated.
//
// Two encodings carry the same information (byte layout: man/scvae-codes.5):
//   binary  - tag "SCVC", version, header, CSR arrays, CRC-32 of the record;
//   JSON    - one JSON object per line (JSON Lines), {"format":"scvae-codes","version":...}.
// Readers recognise the encoding from the first bytes of the stream and read record by record in
// constant memory. Errors: scvae::Error("<name>: record N: <reason>") where N counts from 1.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace scvae {

constexpr uint16_t kCodesVersionMajor = 1;
constexpr uint16_t kCodesVersionMinor = 0;

enum class CodesEncoding { Binary, Json };

// A valid code value is finite with |value| <= kMaxCodeValue (scvae-codes(5), VALUES): squared distances between
// two K-vectors of such values stay finite in binary32 for every K up to 65536 (65536 * (2e15)^2 < 3.4e38).
// Readers refuse other values ("record N: value out of range"); tools that make values check them again.
constexpr float kMaxCodeValue = 1e15f;
// Throws Error("<what>: value out of range (<value>, |value| at most 1e15) at index <i>") for the first value
// that is not finite or beyond kMaxCodeValue.
void check_code_values(const float* values, size_t count, const std::string& what);

struct CodeRecord {
    // Model identity: the fingerprint (16 lowercase hex digits) and the facts a reader needs.
    std::string fingerprint;
    uint32_t n = 0;  // latent dimension
    uint32_t K = 0;  // atoms in the dictionary
    uint32_t d = 0;  // downsampling blocks (grid = padded size / 2^d)
    std::string source;        // source name (file path as given, "-" for stdin, or a name set by a tool)
    uint32_t image_width = 0;  // original image size, before padding
    uint32_t image_height = 0;
    uint32_t image_channels = 3;  // channels of the source image (1 gray, 3 colour; alpha is dropped)
    uint32_t pad_right = 0;       // reflect padding added on the right / bottom to reach a multiple of 2^d
    uint32_t pad_bottom = 0;
    uint32_t grid_h = 0;
    uint32_t grid_w = 0;
    // CSR over grid positions in row-major order (position p = row*grid_w + col):
    // nonzeros of p are indices[row_ptr[p] .. row_ptr[p+1]) with values[...]; indices ascending, < K.
    std::vector<uint32_t> row_ptr;  // grid_h*grid_w + 1 entries, row_ptr[0] = 0
    std::vector<uint16_t> indices;
    std::vector<float> values;
    bool half = false;  // values stored as IEEE binary16 in the stream (set by the writer's option on write)

    size_t positions() const { return static_cast<size_t>(grid_h) * grid_w; }
    size_t nnz() const { return indices.size(); }
    // Dense K-vector of one position (zeros elsewhere).
    std::vector<float> dense(size_t position) const;
    // Dense positions x K matrix, row-major.
    std::vector<float> dense_matrix() const;
    // Builds the CSR part from a dense positions x K row-major matrix (exact zeros dropped).
    void set_dense(const float* dense, size_t positions, uint32_t K);
    // Checks internal consistency (sizes, index < K, ascending indices, finite values);
    // throws Error("<reason>") without a name prefix.
    void validate() const;
    // Same model and same grid (for tools that combine records).
    bool same_model(const CodeRecord& other) const { return fingerprint == other.fingerprint; }
};

struct CodeWriterOptions {
    CodesEncoding encoding = CodesEncoding::Binary;
    bool half = false;  // store values as f16 (binary) / rounded to f16 precision (JSON)
};

class CodeWriter {
public:
    // Writes to `f` (not owned); `name` for messages.
    CodeWriter(FILE* f, std::string name, CodeWriterOptions opt = {});
    void write(const CodeRecord& rec);
    size_t records_written() const { return count_; }
    uint64_t bytes_written() const { return bytes_; }

private:
    FILE* f_;
    std::string name_;
    CodeWriterOptions opt_;
    size_t count_ = 0;
    uint64_t bytes_ = 0;
};

// Serialises one record to bytes (exactly what CodeWriter writes).
std::vector<uint8_t> serialize_record(const CodeRecord& rec, const CodeWriterOptions& opt);

class CodeReader {
public:
    // Reads from `f` (not owned); `name` for messages.
    CodeReader(FILE* f, std::string name);
    ~CodeReader();
    CodeReader(const CodeReader&) = delete;
    CodeReader& operator=(const CodeReader&) = delete;
    // Next record; false at a clean end of stream. Throws Error("<name>: record N: <reason>").
    bool next(CodeRecord& rec);
    size_t records_read() const { return count_; }
    // Encoding of the stream (known after the first next(); Binary for an empty stream).
    CodesEncoding encoding() const { return enc_; }
    // Bytes consumed so far (for bits-per-pixel statistics).
    uint64_t bytes_read() const { return bytes_; }

private:
    struct State;
    // One record of each encoding, the first byte still unread; `first`: the stream's first record.
    void read_json(CodeRecord& rec, bool first);
    void read_binary(CodeRecord& rec, bool first);
    [[noreturn]] void io_error();
    FILE* f_;
    std::string name_;
    size_t count_ = 0;
    uint64_t bytes_ = 0;
    CodesEncoding enc_ = CodesEncoding::Binary;
    bool sniffed_ = false;
    std::unique_ptr<State> st_;
};

// Reads every record of several inputs ("-" = stdin) in turn, calling fn(record, input name).
// Stops on the first error (after the good records before it were handled).
template <class Fn>
void for_each_record(const std::vector<std::string>& inputs, Fn&& fn);

// IEEE binary16 conversion (round to nearest even).
uint16_t float_to_half(float f);
float half_to_float(uint16_t h);

}  // namespace scvae

#include "scvae/io.h"

template <class Fn>
void scvae::for_each_record(const std::vector<std::string>& inputs, Fn&& fn) {
    for (const auto& path : inputs) {
        InputFile in(path);
        CodeReader reader(in.get(), in.name());
        CodeRecord rec;
        while (reader.next(rec)) fn(rec, in.name());
    }
}
