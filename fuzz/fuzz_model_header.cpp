// fuzz_model_header.cpp - libFuzzer target for the model file container (scvae-model(5)) without loading weights:
// magic, version, sizes, JSON header, CRC, config and the tensor list against the config (lib/src/model/file.h).
// A file it accepts must list tensors that lie inside the file. Every failure must be a scvae::Error.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "model/file.h"
#include "scvae/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        scvae::ParsedFile pf = scvae::parse_model_bytes(std::vector<uint8_t>(data, data + size), "fuzz");
        for (const auto& t : pf.tensors)
            if (pf.data_start + t.offset + t.bytes + 4 > pf.bytes.size()) {
                std::fprintf(stderr, "fuzz_model_header: tensor %s lies outside the file\n", t.name.c_str());
                std::abort();
            }
    } catch (const scvae::Error&) {
    }
    return 0;
}
