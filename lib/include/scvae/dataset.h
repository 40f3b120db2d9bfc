// scvae/dataset.h - training data for scvae-train, without LibTorch: file discovery, the deterministic
// validation split, an in-memory set of decoded images, and a prefetching stream of augmented batches.
//
// Data order is a pure function of (seed, step): the training stream is the concatenation of per-epoch
// permutations of the training images; step t of a run with global batch G = batch*world uses stream items
// [t*G, (t+1)*G), and rank r of `world` takes items [t*G + r*batch, t*G + (r+1)*batch). Each item's random
// crop and flip come from a generator seeded by (seed, stream index). So a resumed run only needs the step
// number to continue the exact data order, and `world` processes with batch B see the same items as one
// process with batch world*B.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace scvae {

// Lists the training images: folders are searched recursively for .png/.jpg/.jpeg and the netpbm names
// .ppm/.pgm/.pbm/.pnm/.pam (case-insensitive), in
// sorted order; files are taken as given; each `lists` file (one path per line, "-" = stdin) adds its paths.
// Duplicates are removed (first occurrence kept). Throws Error for a missing input.
std::vector<std::string> discover_images(const std::vector<std::string>& inputs,
                                         const std::vector<std::string>& lists = {});

// Deterministic validation split: a file is in the validation set when the 64-bit FNV-1a hash of its base
// name (without folders), scaled to [0,1), is below `fraction`. Independent of order, folders and machine.
void split_by_hash(const std::vector<std::string>& files, double fraction, std::vector<std::string>& train,
                   std::vector<std::string>& val);

struct ImageSetOptions {
    int crop = 256;         // --size: training crops and validation centre crops are crop x crop
    int resize_short = 0;   // >0: images are first downscaled (area average) so the short side is at most this
    int min_side = 1;       // 2^d: an image with a side below this is an error (before training starts)
    int threads = 1;        // decoding threads
};

// Decoded images, kept in memory as 8-bit RGB. Unreadable files are reported once (warn) and skipped.
// Images whose short side is below the crop size (after resize_short) are upscaled (bilinear) to it.
class ImageSet {
public:
    // Throws Error for an image smaller than min_side, and for an empty set ("<what>: no readable images").
    static ImageSet load(const std::vector<std::string>& files, const ImageSetOptions& opt, const std::string& what);
    size_t size() const { return images_.size(); }
    size_t skipped() const { return skipped_; }
    const std::string& name(size_t i) const { return images_[i].name; }
    int crop_size() const { return crop_; }
    // Writes 3 x crop x crop floats in [-1,1] (planar RGB) for image i: a crop at a random position and a
    // horizontal flip with probability 1/2, both drawn from `seed`.
    void random_crop(size_t i, uint64_t seed, float* out) const;
    // The centre crop (validation).
    void centre_crop(size_t i, float* out) const;

private:
    struct Item {
        std::string name;
        int width = 0, height = 0;
        std::vector<uint8_t> rgb;
    };
    void crop_at(const Item& it, int x, int y, bool flip, float* out) const;
    std::vector<Item> images_;
    size_t skipped_ = 0;
    int crop_ = 0;
};

// 64-bit mixing (splitmix64) used for every seed derivation.
uint64_t mix_seed(uint64_t a, uint64_t b);
// Image index of stream item k: permutation of epoch k / n, entry k % n.
size_t stream_item(uint64_t seed, size_t n, uint64_t k);

struct Batch {
    uint64_t step = 0;
    std::vector<float> data;  // batch x 3 x crop x crop
    std::vector<size_t> items;  // image indices, for tests
};

// Builds training batches on worker threads ahead of the consumer (up to `depth` batches).
class BatchStream {
public:
    BatchStream(const ImageSet& set, int batch, int world, int rank, uint64_t seed, uint64_t first_step,
                int threads, int depth = 4);
    ~BatchStream();
    BatchStream(const BatchStream&) = delete;
    BatchStream& operator=(const BatchStream&) = delete;
    // The batch of the next step, in order; blocks until ready. `waited_s` receives the seconds spent waiting.
    Batch next(double* waited_s = nullptr);
    // Builds a batch synchronously (no threads); what next() returns for that step.
    static Batch make(const ImageSet& set, int batch, int world, int rank, uint64_t seed, uint64_t step);

private:
    void worker();
    const ImageSet& set_;
    int batch_, world_, rank_, depth_;
    uint64_t seed_, next_build_, next_take_;
    bool stop_ = false;
    std::map<uint64_t, Batch> ready_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::thread> threads_;
};

}  // namespace scvae
