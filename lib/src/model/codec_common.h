// codec_common.h - internal: what both Codec implementations share (model/codec.cpp on LibTorch,
// model/codec_light.cpp on the torch-free engine): the record a new encoding starts from, the checks on a record
// to decode and on the codes a model made, the batches of equal size, and images as NHWC network input/output.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "scvae/codes.h"
#include "scvae/image.h"
#include "scvae/model.h"

namespace scvae {

// The record of image `img` before its codes: fingerprint, n, K, d, source, image size and channels, padding to a
// multiple of 2^d, grid. Throws Error("<name>: ...") for an empty image or bad pixel data.
CodeRecord record_for_image(const Image& img, const std::string& name, const ModelConfig& cfg,
                            const std::string& fingerprint);
// Throws Error unless the record's n/K/d fit `cfg` and its grid fits its image size and padding.
void check_record(const CodeRecord& r, const ModelConfig& cfg);
// Every record checked (check_record), then their indices in decoding batches: equal grids together, at most
// 8 * 32 * 32 grid positions a batch (batches_by_size).
std::vector<std::vector<size_t>> checked_decode_batches(const std::vector<CodeRecord>& recs, const ModelConfig& cfg);
// Throws Error("<source>: the model gives a code value out of range ...") for a non-finite or absurd value:
// weights that are finite but absurd (a damaged or hostile model file) give codes no reader accepts.
void check_code_values(const CodeRecord& r);

// Indices 0..keys.size()-1 grouped by equal key (sorted by key, input order kept inside a group) and cut into
// batches of at most max(1, max_units / units) items, where `units` is the key's area (first * second).
std::vector<std::vector<size_t>> batches_by_size(const std::vector<std::pair<int64_t, int64_t>>& keys,
                                                 int64_t max_units);

// Writes image `img` (any channel count; made RGB), padded right and bottom to W x H (reflect, or replicate when
// the image is smaller than the pad), as H x W x 3 floats in [-1, 1] at `out`.
void image_to_nhwc(const Image& img, int H, int W, float* out);
// The top-left `width` x `height` of an H x W x 3 network output (values about [-1, 1]) as an RGB image in [0, 1].
Image image_from_nhwc(const float* y, int W, int width, int height);

// OpenBLAS's thread count (when OpenBLAS is the BLAS), and its worker threads stopped: they spin (sched_yield)
// for about 0.1 s after the library starts and after each multi-threaded call (scvae-encode on 12 photos: 4,000
// calls, 0.05-0.10 s of system time in a 0.5 s run, while the model loaded); the next multi-threaded call starts
// them again. Call it while no other thread is inside BLAS.
void set_blas_threads(int n);

}  // namespace scvae
