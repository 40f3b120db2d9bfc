// codec_common.cpp - see codec_common.h.
#include "model/codec_common.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "scvae/error.h"

extern "C" void openblas_set_num_threads(int) __attribute__((weak));
extern "C" int blas_thread_shutdown_(void) __attribute__((weak));

namespace scvae {

void set_blas_threads(int n) {
    if (openblas_set_num_threads) openblas_set_num_threads(n);
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}

CodeRecord record_for_image(const Image& img, const std::string& name, const ModelConfig& cfg,
                            const std::string& fingerprint) {
    if (img.width <= 0 || img.height <= 0) throw error_at(name, "empty image");
    if (img.channels < 1 || img.channels > 4 || img.data.size() != img.pixels() * img.channels)
        throw error_at(name, "bad image data");
    const int f = cfg.factor();
    CodeRecord r;
    r.fingerprint = fingerprint;
    r.n = static_cast<uint32_t>(cfg.n);
    r.K = static_cast<uint32_t>(cfg.K);
    r.d = static_cast<uint32_t>(cfg.d());
    r.source = name;
    r.image_width = static_cast<uint32_t>(img.width);
    r.image_height = static_cast<uint32_t>(img.height);
    r.image_channels = img.channels <= 2 ? 1 : 3;
    const int pw = (img.width + f - 1) / f * f, ph = (img.height + f - 1) / f * f;
    r.pad_right = static_cast<uint32_t>(pw - img.width);
    r.pad_bottom = static_cast<uint32_t>(ph - img.height);
    r.grid_w = static_cast<uint32_t>(pw / f);
    r.grid_h = static_cast<uint32_t>(ph / f);
    return r;
}

void check_record(const CodeRecord& r, const ModelConfig& cfg) {
    if (r.n != static_cast<uint32_t>(cfg.n) || r.K != static_cast<uint32_t>(cfg.K) ||
        r.d != static_cast<uint32_t>(cfg.d())) {
        std::ostringstream m;
        m << "record was made by a model with n=" << r.n << ", K=" << r.K << ", d=" << r.d << "; this model has n="
          << cfg.n << ", K=" << cfg.K << ", d=" << cfg.d();
        throw Error(m.str());
    }
    r.validate();
    const uint64_t f = cfg.factor();
    if (r.image_width == 0 || r.image_height == 0 ||
        uint64_t(r.grid_w) * f != uint64_t(r.image_width) + r.pad_right ||
        uint64_t(r.grid_h) * f != uint64_t(r.image_height) + r.pad_bottom) {
        std::ostringstream m;
        m << "record grid " << r.grid_w << "x" << r.grid_h << " does not fit image size " << r.image_width << "x"
          << r.image_height << " with padding " << r.pad_right << "," << r.pad_bottom << " for d=" << cfg.d();
        throw Error(m.str());
    }
}

std::vector<std::vector<size_t>> checked_decode_batches(const std::vector<CodeRecord>& recs, const ModelConfig& cfg) {
    std::vector<std::pair<int64_t, int64_t>> grids(recs.size());
    for (size_t i = 0; i < recs.size(); ++i) {
        check_record(recs[i], cfg);
        grids[i] = {recs[i].grid_h, recs[i].grid_w};
    }
    return batches_by_size(grids, int64_t(8) * 32 * 32);
}

void check_code_values(const CodeRecord& r) {
    for (float v : r.values)
        if (!std::isfinite(v) || std::fabs(v) > kMaxCodeValue) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%g", static_cast<double>(v));
            throw error_at(r.source, std::string("the model gives a code value out of range (") + buf +
                                         ", |value| at most 1e15)");
        }
}

std::vector<std::vector<size_t>> batches_by_size(const std::vector<std::pair<int64_t, int64_t>>& keys,
                                                 int64_t max_units) {
    std::map<std::pair<int64_t, int64_t>, std::vector<size_t>> groups;
    for (size_t i = 0; i < keys.size(); ++i) groups[keys[i]].push_back(i);
    std::vector<std::vector<size_t>> out;
    for (const auto& [key, idx] : groups) {
        const int64_t units = std::max<int64_t>(1, key.first * key.second);
        const size_t per_batch = static_cast<size_t>(std::max<int64_t>(1, max_units / units));
        for (size_t start = 0; start < idx.size(); start += per_batch)
            out.emplace_back(idx.begin() + static_cast<std::ptrdiff_t>(start),
                             idx.begin() + static_cast<std::ptrdiff_t>(std::min(idx.size(), start + per_batch)));
    }
    return out;
}

void image_to_nhwc(const Image& src, int H, int W, float* out) {
    const Image rgb_copy = src.channels == 3 ? Image() : to_rgb(src);
    const Image& img = src.channels == 3 ? src : rgb_copy;
    const int h = img.height, w = img.width;
    const bool reflect = W - w < w && H - h < h;
    auto map = [reflect](int i, int n) { return i < n ? i : (reflect ? 2 * (n - 1) - i : n - 1); };
    for (int y = 0; y < H; ++y) {
        const int sy = map(y, h);
        for (int x = 0; x < W; ++x) {
            const float* p = img.data.data() + (size_t(sy) * w + map(x, w)) * 3;
            float* o = out + (size_t(y) * W + x) * 3;
            for (int c = 0; c < 3; ++c) o[c] = p[c] * 2.f - 1.f;
        }
    }
}

Image image_from_nhwc(const float* y, int W, int width, int height) {
    Image img;
    img.width = width;
    img.height = height;
    img.channels = 3;
    img.data.resize(size_t(width) * height * 3);
    for (int r = 0; r < height; ++r)
        for (int x = 0; x < width; ++x)
            for (int c = 0; c < 3; ++c) {
                const float v = (y[(size_t(r) * W + x) * 3 + c] + 1.f) * 0.5f;
                img.data[(size_t(r) * width + x) * 3 + c] = std::min(1.f, std::max(0.f, v));
            }
    return img;
}

}  // namespace scvae
