// dataset.cpp - training data for scvae-train (see scvae/dataset.h). No LibTorch here.
#include "scvae/dataset.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <set>
#include <sys/stat.h>

#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/io.h"

namespace fs = std::filesystem;

namespace scvae {

namespace {

// PNG, JPEG and netpbm names (.png .jpg .jpeg .ppm .pgm .pbm .pnm .pam, any case), as scvae-encode finds them.

uint64_t fnv1a(const std::string& s) {
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    return h;
}

// Uniform integer in [0, n) from a splitmix64 state (n small; modulo bias is negligible and deterministic).
uint64_t next_u64(uint64_t& state) {
    state += 0x9E3779B97F4A7C15ULL;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

// Area-average downscale of 8-bit RGB so that the short side becomes `short_side`.
void downscale_area(int w, int h, const std::vector<uint8_t>& in, int short_side, int& ow, int& oh,
                    std::vector<uint8_t>& out) {
    int s = std::min(w, h);
    ow = static_cast<int>(int64_t(w) * short_side / s);
    oh = static_cast<int>(int64_t(h) * short_side / s);
    out.assign(size_t(ow) * oh * 3, 0);
    for (int y = 0; y < oh; ++y) {
        int ya = int(int64_t(y) * h / oh), yb = std::max(ya + 1, int(int64_t(y + 1) * h / oh));
        for (int x = 0; x < ow; ++x) {
            int xa = int(int64_t(x) * w / ow), xb = std::max(xa + 1, int(int64_t(x + 1) * w / ow));
            double acc[3] = {0, 0, 0};
            for (int yy = ya; yy < yb; ++yy) {
                const uint8_t* p = &in[(size_t(yy) * w + xa) * 3];
                for (int xx = xa; xx < xb; ++xx, p += 3) {
                    acc[0] += p[0];
                    acc[1] += p[1];
                    acc[2] += p[2];
                }
            }
            double n = double(yb - ya) * (xb - xa);
            for (int c = 0; c < 3; ++c) out[(size_t(y) * ow + x) * 3 + c] = uint8_t(acc[c] / n + 0.5);
        }
    }
}

}  // namespace

uint64_t mix_seed(uint64_t a, uint64_t b) {
    uint64_t s = a ^ (b * 0xD1B54A32D192ED03ULL);
    next_u64(s);
    return next_u64(s);
}

std::vector<std::string> discover_images(const std::vector<std::string>& inputs,
                                         const std::vector<std::string>& lists) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    auto add = [&](const std::string& p) {
        if (seen.insert(p).second) out.push_back(p);
    };
    for (const std::string& in : inputs) {
        std::error_code ec;
        fs::file_status st = fs::status(in, ec);
        if (ec || !fs::exists(st)) throw error_at(in, "no such file or folder");
        if (fs::is_directory(st)) {
            std::vector<std::string> found;
            for (auto it = fs::recursive_directory_iterator(in, fs::directory_options::follow_directory_symlink, ec);
                 !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
                if (it->is_regular_file(ec) && has_image_extension(it->path().string())) found.push_back(it->path().string());
            }
            if (ec) throw error_at(in, ec.message());
            std::sort(found.begin(), found.end());
            for (auto& f : found) add(f);
        } else {
            add(in);
        }
    }
    for (const std::string& l : lists)
        for (const std::string& p : read_list_file(l)) add(p);
    return out;
}

void split_by_hash(const std::vector<std::string>& files, double fraction, std::vector<std::string>& train,
                   std::vector<std::string>& val) {
    for (const std::string& f : files) {
        double u = double(fnv1a(fs::path(f).filename().string()) >> 11) * (1.0 / 9007199254740992.0);
        (u < fraction ? val : train).push_back(f);
    }
}

ImageSet ImageSet::load(const std::vector<std::string>& files, const ImageSetOptions& opt, const std::string& what) {
    ImageSet set;
    set.crop_ = opt.crop;
    std::vector<Item> items(files.size());
    std::vector<std::string> errors(files.size());
    std::vector<char> ok(files.size(), 0);
    std::atomic<size_t> next{0};
    auto work = [&]() {
        for (size_t i; (i = next++) < files.size();) {
            try {
                Image img = to_rgb(read_image(files[i]));
                if (img.width < opt.min_side || img.height < opt.min_side) {
                    errors[i] = "!" + files[i] + ": image too small (" + std::to_string(img.width) + "x" +
                                std::to_string(img.height) + "; this model needs at least " +
                                std::to_string(opt.min_side) + "x" + std::to_string(opt.min_side) + ")";
                    continue;
                }
                Item& it = items[i];
                it.name = files[i];
                std::vector<uint8_t> rgb(img.pixels() * 3);
                for (size_t k = 0; k < rgb.size(); ++k)
                    rgb[k] = uint8_t(std::clamp(img.data[k], 0.0f, 1.0f) * 255.0f + 0.5f);
                int w = img.width, h = img.height;
                img = Image();
                if (opt.resize_short > 0 && std::min(w, h) > opt.resize_short) {
                    int ow, oh;
                    std::vector<uint8_t> small;
                    downscale_area(w, h, rgb, opt.resize_short, ow, oh, small);
                    rgb.swap(small);
                    w = ow;
                    h = oh;
                }
                if (std::min(w, h) < opt.crop) {  // upscale small images to the crop size
                    Image f;
                    f.width = w;
                    f.height = h;
                    f.channels = 3;
                    f.data.resize(rgb.size());
                    for (size_t k = 0; k < rgb.size(); ++k) f.data[k] = rgb[k] / 255.0f;
                    int s = std::min(w, h);
                    int nw = int((int64_t(w) * opt.crop + s - 1) / s), nh = int((int64_t(h) * opt.crop + s - 1) / s);
                    f = resize_bilinear(f, std::max(nw, opt.crop), std::max(nh, opt.crop));
                    w = f.width;
                    h = f.height;
                    rgb.resize(f.data.size());
                    for (size_t k = 0; k < rgb.size(); ++k)
                        rgb[k] = uint8_t(std::clamp(f.data[k], 0.0f, 1.0f) * 255.0f + 0.5f);
                }
                it.width = w;
                it.height = h;
                it.rgb = std::move(rgb);
                ok[i] = 1;
            } catch (const std::exception& e) {
                errors[i] = e.what();
            }
        }
    };
    int nt = std::max(1, std::min<int>(opt.threads, int(files.size())));
    std::vector<std::thread> pool;
    for (int t = 1; t < nt; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    for (size_t i = 0; i < files.size(); ++i) {
        if (ok[i]) {
            set.images_.push_back(std::move(items[i]));
        } else if (!errors[i].empty() && errors[i][0] == '!') {
            throw Error(errors[i].substr(1));
        } else {
            warn(errors[i] + " (skipped)");
            ++set.skipped_;
        }
    }
    if (set.images_.empty())
        throw Error(what + ": no readable images" +
                    (files.empty() ? std::string(" (no .png/.jpg/.jpeg files found)") : std::string()));
    return set;
}

void ImageSet::crop_at(const Item& it, int x0, int y0, bool flip, float* out) const {
    const int S = crop_;
    const size_t plane = size_t(S) * S;
    for (int y = 0; y < S; ++y) {
        const uint8_t* row = &it.rgb[(size_t(y0 + y) * it.width + x0) * 3];
        for (int x = 0; x < S; ++x) {
            const uint8_t* p = row + size_t(flip ? S - 1 - x : x) * 3;
            size_t o = size_t(y) * S + x;
            out[o] = p[0] * (2.0f / 255.0f) - 1.0f;
            out[plane + o] = p[1] * (2.0f / 255.0f) - 1.0f;
            out[2 * plane + o] = p[2] * (2.0f / 255.0f) - 1.0f;
        }
    }
}

void ImageSet::random_crop(size_t i, uint64_t seed, float* out) const {
    const Item& it = images_[i];
    uint64_t s = seed;
    int x = int(next_u64(s) % uint64_t(it.width - crop_ + 1));
    int y = int(next_u64(s) % uint64_t(it.height - crop_ + 1));
    bool flip = next_u64(s) & 1;
    crop_at(it, x, y, flip, out);
}

void ImageSet::centre_crop(size_t i, float* out) const {
    const Item& it = images_[i];
    crop_at(it, (it.width - crop_) / 2, (it.height - crop_) / 2, false, out);
}

size_t stream_item(uint64_t seed, size_t n, uint64_t k) {
    // Fisher-Yates permutation of epoch k / n, memoised per thread for the current epoch.
    thread_local uint64_t cached_seed = 0, cached_epoch = ~0ULL;
    thread_local size_t cached_n = 0;
    thread_local std::vector<size_t> perm;
    uint64_t epoch = k / n;
    if (epoch != cached_epoch || seed != cached_seed || n != cached_n) {
        perm.resize(n);
        for (size_t i = 0; i < n; ++i) perm[i] = i;
        uint64_t s = mix_seed(seed, 0x5045524DULL + epoch);
        for (size_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[next_u64(s) % i]);
        cached_seed = seed;
        cached_epoch = epoch;
        cached_n = n;
    }
    return perm[k % n];
}

Batch BatchStream::make(const ImageSet& set, int batch, int world, int rank, uint64_t seed, uint64_t step) {
    Batch b;
    b.step = step;
    const size_t per = size_t(3) * set.crop_size() * set.crop_size();
    b.data.resize(per * batch);
    uint64_t first = step * uint64_t(batch) * world + uint64_t(rank) * batch;
    for (int j = 0; j < batch; ++j) {
        uint64_t k = first + j;
        size_t i = stream_item(seed, set.size(), k);
        b.items.push_back(i);
        set.random_crop(i, mix_seed(seed, 0x43524F50ULL ^ (k << 8)), b.data.data() + per * j);
    }
    return b;
}

BatchStream::BatchStream(const ImageSet& set, int batch, int world, int rank, uint64_t seed, uint64_t first_step,
                         int threads, int depth)
    : set_(set), batch_(batch), world_(world), rank_(rank), depth_(std::max(1, depth)), seed_(seed),
      next_build_(first_step), next_take_(first_step) {
    for (int t = 0; t < std::max(1, threads); ++t) threads_.emplace_back([this] { worker(); });
}

BatchStream::~BatchStream() {
    {
        std::lock_guard<std::mutex> lk(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
}

void BatchStream::worker() {
    for (;;) {
        uint64_t step;
        {
            std::unique_lock<std::mutex> lk(mu_);
            cv_.wait(lk, [&] { return stop_ || next_build_ < next_take_ + uint64_t(depth_); });
            if (stop_) return;
            step = next_build_++;
        }
        Batch b = make(set_, batch_, world_, rank_, seed_, step);
        {
            std::lock_guard<std::mutex> lk(mu_);
            ready_.emplace(step, std::move(b));
        }
        cv_.notify_all();
    }
}

Batch BatchStream::next(double* waited_s) {
    auto t0 = std::chrono::steady_clock::now();
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return ready_.count(next_take_) > 0; });
    Batch b = std::move(ready_[next_take_]);
    ready_.erase(next_take_);
    ++next_take_;
    lk.unlock();
    cv_.notify_all();
    if (waited_s) waited_s[0] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return b;
}

}  // namespace scvae
