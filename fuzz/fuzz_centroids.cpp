// fuzz_centroids.cpp - libFuzzer target for the centroid file reader (".scvk", scvae/cluster.h). A file it
// accepts must hold k x dim finite values within kMaxCentroidValue. Every failure must be a scvae::Error.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "scvae/cluster.h"
#include "scvae/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        scvae::Centroids c = scvae::parse_centroids(std::vector<uint8_t>(data, data + size), "fuzz");
        if (c.k == 0 || c.dim == 0 || c.data.size() != c.k * c.dim) std::abort();
        for (float v : c.data)
            if (!std::isfinite(v) || std::fabs(v) > scvae::kMaxCentroidValue) std::abort();
    } catch (const scvae::Error&) {
    }
    return 0;
}
