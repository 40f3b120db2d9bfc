// file.h - the model file's container (scvae-model(5)) parsed and checked without LibTorch: magic, version,
// sizes, JSON header, CRC, config, and every tensor's name, shape, dtype and byte range against the config.
// Nothing here allocates for the network; the weights stay bytes in ParsedFile::bytes. Used by model/codec.cpp
// (load, model info) and by the fuzz target fuzz/fuzz_model_header.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scvae/model.h"

namespace scvae {

inline constexpr char kModelMagic[8] = {'S', 'C', 'V', 'A', 'E', 'M', 'D', 'L'};
inline constexpr uint32_t kModelFileVersion = 1;

struct TensorEntry {
    std::string name;
    std::vector<int64_t> shape;
    bool half = false;
    bool buffer = false;
    uint64_t offset = 0, bytes = 0;
};

// A checked model file: header fields and where the tensor data lies.
struct ParsedFile {
    std::vector<uint8_t> bytes;
    nlohmann::json header;
    ModelConfig cfg;
    std::string fingerprint;
    nlohmann::json meta;
    std::vector<TensorEntry> tensors;
    size_t data_start = 0;
};

std::string shape_str(const std::vector<int64_t>& s);

// 64-bit FNV-1a with the standard offset basis and prime (see scvae-model(5), FINGERPRINT).
inline constexpr uint64_t kFnvOffsetBasis = 14695981039346656037ULL;
// The offset basis of files written before the fingerprint was fixed: one digit short of the standard one,
// over the raw bytes (-0 and +0 apart). Such files still load.
inline constexpr uint64_t kLegacyFnvOffsetBasis = 1469598103934665603ULL;

struct Fnv {
    uint64_t h = kFnvOffsetBasis;
    void add(const void* data, size_t n) {
        const auto* p = static_cast<const uint8_t*>(data);
        uint64_t x = h;
        for (size_t i = 0; i < n; ++i) {
            x ^= p[i];
            x *= 1099511628211ULL;
        }
        h = x;
    }
    // one tensor: its name with the terminating NUL, the rank and sizes as int64, the float32 values
    void add_tensor(const std::string& name, const std::vector<int64_t>& shape, const float* v, size_t numel) {
        add(name.data(), name.size() + 1);
        const int64_t dims = static_cast<int64_t>(shape.size());
        add(&dims, sizeof(dims));
        for (int64_t s : shape) add(&s, sizeof(s));
        add(v, numel * sizeof(float));
    }
    std::string hex() const;
};

enum class FingerprintKind { Current, Legacy };

// The float32 values of a stored tensor (binary16 widened exactly); with `canonical`, every -0 as +0.
std::vector<float> tensor_values(const ParsedFile& pf, const TensorEntry& e, bool canonical = false);
// The fingerprint of the stored config and weights, hashed in the network's order (expected_tensors): what a
// network loaded from the file reports, computed without building it.
std::string stored_fingerprint(const ParsedFile& pf, FingerprintKind kind = FingerprintKind::Current);
// The fingerprint a load reports: the stored weights' (a file from before the fingerprint was fixed keeps the
// one its header states). Throws Error("<name>: fingerprint mismatch ...") when the header disagrees.
std::string checked_fingerprint(const ParsedFile& pf, const std::string& name);

// Reads and checks the model file at `path`; throws Error("<name>: <reason>").
ParsedFile parse_model_file(const std::string& path);
// The same for a file already in memory; `name` in messages.
ParsedFile parse_model_bytes(std::vector<uint8_t> bytes, const std::string& name);

}  // namespace scvae
