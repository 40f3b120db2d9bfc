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

// Reads and checks the model file at `path`; throws Error("<name>: <reason>").
ParsedFile parse_model_file(const std::string& path);
// The same for a file already in memory; `name` in messages.
ParsedFile parse_model_bytes(std::vector<uint8_t> bytes, const std::string& name);

}  // namespace scvae
