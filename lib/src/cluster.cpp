// cluster.cpp - FAISS k-means over sparse code vectors, centroid files, assignments and the Figure 7 mosaic.
#include "scvae/cluster.h"

#include <omp.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <sys/stat.h>

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/utils/random.h>
#include <nlohmann/json.hpp>

#include "bytes.h"
#include "scvae/cli.h"
#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/montage.h"
#include "scvae/io.h"

// OpenBLAS (libopenblas0-pthread, the libblas.so.3 alternative FAISS links) has its own thread pool. Weak, so a
// reference BLAS without this function still links.
extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace scvae {

void set_faiss_threads(int n) {
    if (n <= 0) n = available_cpus();
    omp_set_num_threads(n);
    if (openblas_set_num_threads) openblas_set_num_threads(n);
}

void normalize_rows(float* x, size_t n, size_t dim) {
    for (size_t i = 0; i < n; ++i) {
        float* r = x + i * dim;
        double s = 0;
        for (size_t j = 0; j < dim; ++j) s += double(r[j]) * r[j];
        if (s > 0) {
            float inv = static_cast<float>(1.0 / std::sqrt(s));
            for (size_t j = 0; j < dim; ++j) r[j] *= inv;
        }
    }
}

namespace {

std::unique_ptr<faiss::IndexFlat> make_index(size_t dim, bool spherical) {
    if (spherical) return std::make_unique<faiss::IndexFlatIP>(static_cast<faiss::Index::idx_t>(dim));
    return std::make_unique<faiss::IndexFlatL2>(static_cast<faiss::Index::idx_t>(dim));
}

}  // namespace

namespace {

// The next k-means++ centroid: a point drawn with probability proportional to best[i] (its squared distance to
// the nearest centroid so far; total is their sum), never one at distance 0; any point when all are at 0.
size_t kmeanspp_draw(std::mt19937_64& rng, const std::vector<double>& best, double total) {
    const size_t n = best.size();
    if (total <= 0) return static_cast<size_t>(rng() % n);  // every point already is a centroid: any will do
    double u = std::uniform_real_distribution<double>(0.0, total)(rng), acc = 0;
    for (size_t i = 0; i < n; ++i) {
        acc += best[i];
        if (acc > u && best[i] > 0) return i;
    }
    return n - 1;
}

// k-means++ seeding (Arthur & Vassilvitskii 2007): each next centroid is a point drawn with probability
// proportional to its squared distance to the nearest centroid so far. Points identical to a chosen one are never
// drawn again, so a few distinct groups among many duplicates (typical of sparse codes) are all found.
std::vector<float> kmeanspp_init(const float* x, size_t n, size_t dim, size_t k, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<float> c(k * dim);
    std::vector<double> best(n, std::numeric_limits<double>::infinity());
    size_t pick = static_cast<size_t>(rng() % n);
    for (size_t j = 0; j < k; ++j) {
        std::copy(x + pick * dim, x + (pick + 1) * dim, c.begin() + static_cast<long>(j * dim));
        const float* cj = x + pick * dim;
        double total = 0;
        for (size_t i = 0; i < n; ++i) {
            const float* xi = x + i * dim;
            double s = 0;
            for (size_t t = 0; t < dim; ++t) {
                double d = double(xi[t]) - cj[t];
                s += d * d;
            }
            if (s < best[i]) best[i] = s;
            total += best[i];
        }
        if (j + 1 == k) break;
        pick = kmeanspp_draw(rng, best, total);
    }
    return c;
}

}  // namespace

Centroids kmeans_train(float* x, size_t n, size_t dim, const KMeansOptions& opt) {
    if (opt.k < 1) throw Error("k must be at least 1");
    if (n == 0) throw Error("no vectors to cluster");
    if (static_cast<size_t>(opt.k) > n)
        throw Error("k (" + std::to_string(opt.k) + ") is larger than the number of vectors (" + std::to_string(n) +
                    ")");
    if (dim == 0) throw Error("vectors have dimension 0");
    // FAISS asserts (aborts) when a distance overflows to inf: values beyond the bound of code values
    // (scvae-codes(5)) are refused here, whoever the caller is.
    check_code_values(x, n * dim, "k-means input");
    if (opt.spherical) normalize_rows(x, n, dim);
    const size_t k = static_cast<size_t>(opt.k);
    // k-means++ seeding costs n*k*dim operations without BLAS: used up to 2^31 of them (all per-image
    // segmentations, small corpora); beyond that FAISS's random initialisation.
    const bool plusplus = static_cast<double>(n) * static_cast<double>(k) * static_cast<double>(dim) <= 2147483648.0;
    const int runs = std::max(1, opt.redo);
    Centroids best;
    bool have = false;
    for (int run = 0; run < (plusplus ? runs : 1); ++run) {
        faiss::ClusteringParameters cp;
        cp.niter = std::max(1, opt.iters);
        cp.nredo = plusplus ? 1 : runs;
        cp.verbose = opt.verbose;
        cp.spherical = opt.spherical;
        cp.seed = static_cast<int>((opt.seed + static_cast<uint64_t>(run)) & 0x7fffffff);
        cp.min_points_per_centroid = 1;        // no "please provide at least N points" warnings
        cp.max_points_per_centroid = 1 << 30;  // the caller samples (--max-points), FAISS must not
        faiss::Clustering clus(static_cast<int>(dim), opt.k, cp);
        if (plusplus) {
            clus.centroids = kmeanspp_init(x, n, dim, k, opt.seed * 7919 + static_cast<uint64_t>(run));
            if (opt.spherical) normalize_rows(clus.centroids.data(), k, dim);
        }
        auto index = make_index(dim, opt.spherical);
        try {
            clus.train(static_cast<faiss::Index::idx_t>(n), x, *index);
        } catch (const std::exception& e) {
            throw Error(std::string("k-means failed: ") + e.what());
        }
        double obj = clus.iteration_stats.empty() ? 0.0 : clus.iteration_stats.back().obj;
        bool better = !have || (opt.spherical ? obj > best.objective : obj < best.objective);
        if (better) {
            best.data = std::move(clus.centroids);
            best.objective = obj;
            have = true;
        }
    }
    best.k = k;
    best.dim = dim;
    best.spherical = opt.spherical;
    best.iters = std::max(1, opt.iters);
    best.seed = opt.seed;
    best.trained_on = n;
    return best;
}

void kmeans_assign(const Centroids& c, float* x, size_t n, int64_t* labels, float* dist) {
    if (c.k == 0 || c.data.size() != c.k * c.dim) throw Error("centroids are empty or inconsistent");
    if (n == 0) return;
    for (size_t i = 0; i < c.data.size(); ++i)
        if (!std::isfinite(c.data[i]) || std::fabs(c.data[i]) > kMaxCentroidValue)
            throw Error("centroids: value out of range (|value| at most 2e15) at index " + std::to_string(i));
    check_code_values(x, n * c.dim, "k-means input");
    if (c.spherical) normalize_rows(x, n, c.dim);
    auto index = make_index(c.dim, c.spherical);
    index->add(static_cast<faiss::Index::idx_t>(c.k), c.data.data());
    std::vector<faiss::Index::idx_t> lab(n);
    index->search(static_cast<faiss::Index::idx_t>(n), x, 1, dist, lab.data());
    for (size_t i = 0; i < n; ++i) {
        // FAISS leaves the label at -1 when no distance is finite (values beyond the documented bound)
        if (lab[i] < 0 || lab[i] >= static_cast<faiss::Index::idx_t>(c.k))
            throw Error("vector " + std::to_string(i) + " has no nearest centroid (distances overflow)");
        labels[i] = lab[i];
        if (c.spherical) dist[i] = 1.0f - dist[i];
        else if (dist[i] < 0) dist[i] = 0;  // rounding of ||x||^2 - 2xc + ||c||^2
    }
}

// ---- k-means on sparse rows ----

void SparseRows::add_row(const uint16_t* i, const float* v, size_t count) {
    idx.insert(idx.end(), i, i + count);
    val.insert(val.end(), v, v + count);
    ptr.push_back(idx.size());
}

bool sparse_kmeans_pays(size_t rows, size_t nnz, size_t dim) {
    return rows > 0 && dim > 0 && double(nnz) * 8.0 < double(rows) * double(dim);
}

namespace {

void normalize_sparse(SparseRows& x) {
    for (size_t i = 0; i < x.rows(); ++i) {
        double s = 0;
        for (size_t t = x.ptr[i]; t < x.ptr[i + 1]; ++t) s += double(x.val[t]) * x.val[t];
        if (s > 0) {
            float inv = static_cast<float>(1.0 / std::sqrt(s));
            for (size_t t = x.ptr[i]; t < x.ptr[i + 1]; ++t) x.val[t] *= inv;
        }
    }
}

// s[0..k) += v * row[0..k): the inner loop of the sparse products, compiled for AVX2+FMA too (picked at run
// time; the default build targets baseline x86-64).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2,fma", "default")))
#endif
void axpy(float* __restrict s, const float* __restrict row, float v, size_t k) {
#pragma omp simd
    for (size_t j = 0; j < k; ++j) s[j] += v * row[j];
}

// The first j of the smallest d[j] = cnorm[j] - 2 s[j] (sign = -1: the largest s[j]); returns j and the value.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2,fma", "default")))
#endif
size_t best_of(const float* __restrict s, const float* __restrict cnorm, bool spherical, size_t k, float* value) {
    float m = std::numeric_limits<float>::infinity();
    if (spherical) {
#pragma omp simd reduction(min : m)
        for (size_t j = 0; j < k; ++j) m = std::min(m, -s[j]);
        for (size_t j = 0; j < k; ++j)
            if (-s[j] == m) return *value = s[j], j;
    } else {
#pragma omp simd reduction(min : m)
        for (size_t j = 0; j < k; ++j) m = std::min(m, cnorm[j] - 2 * s[j]);
        for (size_t j = 0; j < k; ++j)
            if (cnorm[j] - 2 * s[j] == m) return *value = m, j;
    }
    *value = spherical ? s[0] : cnorm[0] - 2 * s[0];  // NaN scores (never for finite codes)
    return 0;
}

// Centroids transposed (dim x k, so that a row's nonzero t adds val * ct[idx_t] to k scores at once) and their
// squared norms.
struct SparseSearch {
    size_t k, dim;
    bool spherical;
    std::vector<float> ct, cnorm;
    SparseSearch(const float* c, size_t k_, size_t dim_, bool sph) : k(k_), dim(dim_), spherical(sph), ct(k_ * dim_), cnorm(k_) {
        for (size_t j = 0; j < k; ++j) {
            float s = 0;
            for (size_t t = 0; t < dim; ++t) {
                float v = c[j * dim + t];
                ct[t * k + j] = v;
                s += v * v;
            }
            cnorm[j] = s;
        }
    }
    // Nearest centroid of every row, in parallel: L2 as FAISS computes it (||x||^2 + ||c||^2 - 2 x.c, clamped
    // at 0), the largest inner product in spherical mode. Returns the sum of the distances (inner products).
    double run(const SparseRows& x, int64_t* labels, float* dist) const {
        const long n = static_cast<long>(x.rows());
        double obj = 0;
#pragma omp parallel reduction(+ : obj)
        {
            std::vector<float> score(k);
#pragma omp for schedule(dynamic, 256)
            for (long i = 0; i < n; ++i) {
                std::fill(score.begin(), score.end(), 0.0f);
                float xn = 0;
                for (size_t t = x.ptr[size_t(i)]; t < x.ptr[size_t(i) + 1]; ++t) {
                    const float v = x.val[t];
                    xn += v * v;
                    axpy(score.data(), ct.data() + size_t(x.idx[t]) * k, v, k);
                }
                float bd;
                size_t best = best_of(score.data(), cnorm.data(), spherical, k, &bd);
                if (!spherical) {
                    bd += xn;
                    if (bd < 0) bd = 0;
                }
                labels[i] = static_cast<int64_t>(best);
                dist[i] = bd;
                obj += bd;
            }
        }
        return obj;
    }
};

// k-means++ seeding on sparse rows: kmeanspp_init's draws, with each distance summed over the union of the two
// supports in index order (the dense loop's sum without its exact zeros, so the same value).
std::vector<float> kmeanspp_init_sparse(const SparseRows& x, size_t k, uint64_t seed) {
    const size_t n = x.rows(), dim = x.dim;
    std::mt19937_64 rng(seed);
    std::vector<float> c(k * dim, 0.0f);
    std::vector<double> best(n, std::numeric_limits<double>::infinity());
    size_t pick = static_cast<size_t>(rng() % n);
    for (size_t j = 0; j < k; ++j) {
        const size_t pb = x.ptr[pick], pe = x.ptr[pick + 1];
        for (size_t t = pb; t < pe; ++t) c[j * dim + x.idx[t]] = x.val[t];
        double total = 0;
        for (size_t i = 0; i < n; ++i) {
            size_t a = x.ptr[i], ae = x.ptr[i + 1], b = pb;
            double s = 0;
            while (a < ae || b < pe) {
                double d;
                if (b >= pe || (a < ae && x.idx[a] < x.idx[b])) d = double(x.val[a++]);
                else if (a >= ae || x.idx[b] < x.idx[a]) d = -double(x.val[b++]);
                else d = double(x.val[a++]) - x.val[b++];
                s += d * d;
            }
            if (s < best[i]) best[i] = s;
            total += best[i];
        }
        if (j + 1 == k) break;
        pick = kmeanspp_draw(rng, best, total);
    }
    return c;
}

// FAISS's split_clusters (Clustering.cpp): an empty centroid takes a copy of one drawn with probability
// proportional to its size, and the two move apart by a relative 1/1024; the larger's members are shared.
void split_empty(std::vector<float>& c, std::vector<float>& count, size_t n, size_t k, size_t dim) {
    faiss::RandomGenerator rng(1234);
    const float eps = 1.0f / 1024;
    for (size_t ci = 0; ci < k; ++ci) {
        if (count[ci] != 0) continue;
        size_t cj = 0;
        for (;; cj = (cj + 1) % k) {
            float p = static_cast<float>((count[cj] - 1.0) / static_cast<float>(n - k));  // as FAISS computes it
            if (rng.rand_float() < p) break;
        }
        std::copy(c.begin() + long(cj * dim), c.begin() + long((cj + 1) * dim), c.begin() + long(ci * dim));
        for (size_t j = 0; j < dim; ++j) {
            if (j % 2 == 0) {
                c[ci * dim + j] *= 1 + eps;
                c[cj * dim + j] *= 1 - eps;
            } else {
                c[ci * dim + j] *= 1 - eps;
                c[cj * dim + j] *= 1 + eps;
            }
        }
        count[ci] = count[cj] / 2;
        count[cj] -= count[ci];
    }
}

}  // namespace

Centroids kmeans_train_sparse(SparseRows& x, const KMeansOptions& opt) {
    const size_t n = x.rows(), dim = x.dim;
    if (opt.k < 1) throw Error("k must be at least 1");
    if (n == 0) throw Error("no vectors to cluster");
    if (static_cast<size_t>(opt.k) > n)
        throw Error("k (" + std::to_string(opt.k) + ") is larger than the number of vectors (" + std::to_string(n) +
                    ")");
    if (dim == 0) throw Error("vectors have dimension 0");
    check_code_values(x.val.data(), x.val.size(), "k-means input");
    if (opt.spherical) normalize_sparse(x);
    const size_t k = static_cast<size_t>(opt.k);
    const bool plusplus = static_cast<double>(n) * static_cast<double>(k) * static_cast<double>(dim) <= 2147483648.0;
    const int runs = std::max(1, opt.redo), iters = std::max(1, opt.iters);
    std::vector<int64_t> labels(n);
    std::vector<float> dist(n);
    Centroids best;
    bool have = false;
    for (int run = 0; run < runs; ++run) {
        const uint64_t seed = opt.seed + static_cast<uint64_t>(plusplus ? run : 0);
        std::vector<float> c;
        if (plusplus) {
            c = kmeanspp_init_sparse(x, k, opt.seed * 7919 + static_cast<uint64_t>(run));
            if (opt.spherical) normalize_rows(c.data(), k, dim);
        } else {
            // FAISS's initialisation: k distinct rows of a seeded permutation
            c.assign(k * dim, 0.0f);
            std::vector<int> perm(n);
            faiss::rand_perm(perm.data(), n, static_cast<int64_t>(seed & 0x7fffffff) + 1 + int64_t(run) * 15486557L);
            for (size_t j = 0; j < k; ++j) {
                size_t i = static_cast<size_t>(perm[j]);
                for (size_t t = x.ptr[i]; t < x.ptr[i + 1]; ++t) c[j * dim + x.idx[t]] = x.val[t];
            }
        }
        double obj = 0;
        if (n == k) {  // every row is its own centroid, in order (as FAISS does)
            std::fill(c.begin(), c.end(), 0.0f);
            for (size_t i = 0; i < n; ++i)
                for (size_t t = x.ptr[i]; t < x.ptr[i + 1]; ++t) c[i * dim + x.idx[t]] = x.val[t];
        } else {
            std::vector<double> sum(k * dim);
            std::vector<float> count(k);  // float, as FAISS's hassign: split_empty halves them
            for (int it = 0; it < iters; ++it) {
                obj = SparseSearch(c.data(), k, dim, opt.spherical).run(x, labels.data(), dist.data());
                if (opt.verbose)
                    warn("k-means iteration " + std::to_string(it + 1) + ": objective " + std::to_string(obj));
                std::fill(sum.begin(), sum.end(), 0.0);
                std::fill(count.begin(), count.end(), 0.0f);
                for (size_t i = 0; i < n; ++i) {
                    const size_t l = static_cast<size_t>(labels[i]);
                    count[l] += 1;
                    for (size_t t = x.ptr[i]; t < x.ptr[i + 1]; ++t) sum[l * dim + x.idx[t]] += x.val[t];
                }
                for (size_t j = 0; j < k; ++j)
                    if (count[j] > 0)
                        for (size_t t = 0; t < dim; ++t) c[j * dim + t] = static_cast<float>(sum[j * dim + t] / count[j]);
                split_empty(c, count, n, k, dim);
                if (opt.spherical) normalize_rows(c.data(), k, dim);
            }
        }
        bool better = !have || (opt.spherical ? obj > best.objective : obj < best.objective);
        if (better) {
            best.data = std::move(c);
            best.objective = obj;
            have = true;
        }
    }
    best.k = k;
    best.dim = dim;
    best.spherical = opt.spherical;
    best.iters = iters;
    best.seed = opt.seed;
    best.trained_on = n;
    return best;
}

void kmeans_assign_sparse(const Centroids& c, SparseRows& x, int64_t* labels, float* dist) {
    if (c.k == 0 || c.data.size() != c.k * c.dim) throw Error("centroids are empty or inconsistent");
    if (x.dim != c.dim) throw Error("vectors have " + std::to_string(x.dim) + " dimensions, centroids " + std::to_string(c.dim));
    if (x.rows() == 0) return;
    check_code_values(x.val.data(), x.val.size(), "k-means input");
    if (c.spherical) normalize_sparse(x);
    SparseSearch(c.data.data(), c.k, c.dim, c.spherical).run(x, labels, dist);
    if (c.spherical)
        for (size_t i = 0; i < x.rows(); ++i) dist[i] = 1.0f - dist[i];
}

// ---- centroid files ----

namespace {

constexpr char kMagic[4] = {'S', 'C', 'V', 'K'};
constexpr uint16_t kCentroidsMajor = 1, kCentroidsMinor = 0;

}  // namespace

void save_centroids(const std::string& path, const Centroids& c) {
    nlohmann::json h = {{"format", "scvae-centroids"},
                        {"version", std::to_string(kCentroidsMajor) + "." + std::to_string(kCentroidsMinor)},
                        {"k", c.k},
                        {"dim", c.dim},
                        {"spherical", c.spherical},
                        {"fingerprint", c.fingerprint},
                        {"grid_h", c.grid_h},
                        {"grid_w", c.grid_w},
                        {"d", c.d},
                        {"objective", c.objective},
                        {"iters", c.iters},
                        {"seed", c.seed},
                        {"points", c.points},
                        {"trained_on", c.trained_on}};
    std::string hs = h.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::vector<uint8_t> b;
    b.reserve(16 + hs.size() + c.data.size() * 4);
    bytes::Writer w(b);
    w.raw(kMagic, 4);
    w.u16(kCentroidsMajor);
    w.u16(kCentroidsMinor);
    w.u32(static_cast<uint32_t>(hs.size()));
    w.raw(hs.data(), hs.size());
    w.array(c.data);
    w.crc_of_all();
    write_file_atomic(path, b.data(), b.size());
}

Centroids load_centroids(const std::string& path) { return parse_centroids(read_file(path), display_name(path)); }

Centroids parse_centroids(const std::vector<uint8_t>& b, const std::string& name) {
    bytes::Reader in(b.data(), b.size(), name, "centroid file");
    if (b.size() < 4) throw error_at(name, "not a scvae centroid file (missing SCVK tag)");
    in.magic(kMagic, 4, "not a scvae centroid file (missing SCVK tag)");
    const uint16_t major = in.u16();
    in.u16();  // minor: any
    if (major != kCentroidsMajor)
        throw error_at(name, "unsupported centroid file version " + std::to_string(major) + " (this program reads " +
                                 std::to_string(kCentroidsMajor) + ".x)");
    const uint32_t hlen = in.u32();
    in.need(uint64_t(hlen) + 4);
    const auto* hp = reinterpret_cast<const char*>(in.raw(hlen));
    nlohmann::json h;
    try {
        h = nlohmann::json::parse(hp, hp + hlen);
    } catch (const std::exception& e) {
        throw error_at(name, std::string("corrupt centroid header: ") + e.what());
    }
    Centroids c;
    try {
        if (h.at("format").get<std::string>() != "scvae-centroids") throw Error("format is not scvae-centroids");
        c.k = h.at("k").get<size_t>();
        c.dim = h.at("dim").get<size_t>();
        c.spherical = h.at("spherical").get<bool>();
        c.fingerprint = h.value("fingerprint", "");
        c.grid_h = h.value("grid_h", 0u);
        c.grid_w = h.value("grid_w", 0u);
        c.d = h.value("d", 0u);
        c.objective = h.value("objective", 0.0);
        c.iters = h.value("iters", 0);
        c.seed = h.value("seed", uint64_t(0));
        c.points = h.value("points", uint64_t(0));
        c.trained_on = h.value("trained_on", uint64_t(0));
    } catch (const std::exception& e) {
        throw error_at(name, std::string("bad centroid header: ") + e.what());
    }
    if (c.k == 0 || c.dim == 0 || c.k > (1u << 24) || c.dim > (1u << 20))
        throw error_at(name, "bad centroid header: k or dim out of range");
    const size_t nbytes = c.k * c.dim * sizeof(float);
    if (in.remaining() != nbytes + 4)
        throw error_at(name, "centroid file size does not match k x dim (truncated or trailing data)");
    const uint8_t* data = in.raw(nbytes);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    if (!in.crc_matches()) throw error_at(name, "checksum mismatch (corrupt centroid file)");
#endif
    c.data.resize(c.k * c.dim);
    for (size_t i = 0; i < c.data.size(); ++i) {
        const uint32_t u = bytes::le32(data + 4 * i);
        std::memcpy(&c.data[i], &u, 4);
    }
    // A centroid beyond kMaxCentroidValue makes distances overflow to inf (then no nearest centroid is found).
    for (size_t i = 0; i < c.data.size(); ++i)
        if (!std::isfinite(c.data[i]) || std::fabs(c.data[i]) > kMaxCentroidValue)
            throw error_at(name, "centroid " + std::to_string(i / c.dim) + ": value out of range (|value| at most 2e15)");
    return c;
}

// ---- scvae-cluster ----

namespace {

struct Corpus {
    std::vector<CodeRecord> records;   // CSR only: much smaller than the dense matrix
    std::vector<size_t> offset;        // first global vector index of each record
    size_t total = 0;
    uint32_t K = 0;
};

void densify(const CodeRecord& rec, size_t p0, size_t count, float* out) {
    std::fill(out, out + count * rec.K, 0.0f);
    for (size_t i = 0; i < count; ++i) {
        size_t p = p0 + i;
        float* row = out + i * rec.K;
        for (uint32_t j = rec.row_ptr[p]; j < rec.row_ptr[p + 1]; ++j) row[rec.indices[j]] = rec.values[j];
    }
}

Corpus read_corpus(const std::vector<std::string>& inputs) {
    Corpus c;
    size_t n = 0;  // record number within the current input, from 1 (as CodeReader counts)
    std::string current;
    for_each_record(inputs, [&](CodeRecord& rec, const std::string& input) {
        if (input != current) {
            current = input;
            n = 0;
        }
        ++n;
        if (!c.records.empty()) {
            const CodeRecord& f = c.records.front();
            std::string where = input + ": record " + std::to_string(n);
            if (!rec.same_model(f) || rec.K != f.K)
                throw Error(where + ": codes of model " + rec.fingerprint + " (K=" + std::to_string(rec.K) +
                            ") mixed with model " + f.fingerprint + " (K=" + std::to_string(f.K) +
                            "); one clustering run needs codes of one model");
            if (rec.grid_h != f.grid_h || rec.grid_w != f.grid_w)
                throw Error(where + ": grid " + std::to_string(rec.grid_h) + "x" + std::to_string(rec.grid_w) +
                            " differs from the first record's " + std::to_string(f.grid_h) + "x" +
                            std::to_string(f.grid_w) + "; one clustering run needs one grid size");
        }
        c.offset.push_back(c.total);
        c.total += rec.positions();
        c.K = rec.K;
        c.records.push_back(std::move(rec));
        rec = CodeRecord();
    });
    return c;
}

// (record, position) of a global vector index.
std::pair<size_t, size_t> locate(const Corpus& c, size_t g) {
    size_t r = static_cast<size_t>(std::upper_bound(c.offset.begin(), c.offset.end(), g) - c.offset.begin()) - 1;
    return {r, g - c.offset[r]};
}

std::vector<size_t> sample_indices(size_t n, size_t m, uint64_t seed) {
    std::vector<size_t> idx(n);
    std::iota(idx.begin(), idx.end(), size_t(0));
    if (m >= n) return idx;
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < m; ++i) {
        size_t j = i + static_cast<size_t>(rng() % (n - i));
        std::swap(idx[i], idx[j]);
    }
    idx.resize(m);
    std::sort(idx.begin(), idx.end());
    return idx;
}


std::string tsv_escape(const std::string& s) {
    std::string o;
    for (char ch : s) {
        if (ch == '\t') o += "\\t";
        else if (ch == '\n') o += "\\n";
        else if (ch == '\\') o += "\\\\";
        else o += ch;
    }
    return o;
}

void draw_mosaic(const ClusterOptions& opt, const Corpus& corpus, const Centroids& cent,
                 const std::vector<int32_t>& labels, const std::vector<float>& dist) {
    const CodeRecord& first = corpus.records.front();
    const int P = 1 << first.d;
    const int scale = opt.patch_scale > 0 ? opt.patch_scale : std::max(1, (16 + P - 1) / P);
    const int cell = P * scale, gap = 2;
    std::vector<std::vector<size_t>> members(cent.k);
    for (size_t g = 0; g < labels.size(); ++g) members[static_cast<size_t>(labels[g])].push_back(g);
    std::vector<size_t> rows;
    for (size_t k = 0; k < cent.k; ++k)
        if (!members[k].empty()) rows.push_back(k);
    std::mt19937_64 rng(opt.kmeans.seed ^ 0x9e3779b97f4a7c15ULL);
    if (opt.rows > 0 && static_cast<size_t>(opt.rows) < rows.size()) {
        for (size_t i = 0; i < static_cast<size_t>(opt.rows); ++i)
            std::swap(rows[i], rows[i + rng() % (rows.size() - i)]);
        rows.resize(static_cast<size_t>(opt.rows));
        std::sort(rows.begin(), rows.end());
    }
    const int per_row = std::max(1, opt.per_row);
    // Every row starts with a label band: "<cluster id> n=<cluster size>" in the 5x7 font; rows are at least
    // 9 pixels high so the text fits (the patches are centred in taller rows).
    std::vector<std::string> row_label;
    int band = 0;
    for (size_t k : rows) {
        row_label.push_back(std::to_string(k) + " n=" + std::to_string(members[k].size()));
        band = std::max(band, text_width(row_label.back(), 1) + 6);
    }
    const int row_h = std::max(cell, text_height(1) + 2);
    // A patch is 2^d pixels wide; the mosaic is refused beyond the image limit rather than allocated.
    const uint64_t mw = gap + uint64_t(band) + uint64_t(per_row) * uint64_t(cell + gap),
                   mh = gap + rows.size() * uint64_t(row_h + gap);
    if (mw * mh > ImageLimits().max_pixels)
        throw error_at(display_name(opt.mosaic, true),
                       "a mosaic of " + std::to_string(mw) + "x" + std::to_string(mh) + " pixels is too large (limit " +
                           std::to_string(ImageLimits().max_pixels) +
                           " pixels); use fewer --rows or --per-row, or a smaller --patch-scale");
    Image m;
    m.width = static_cast<int>(mw);
    m.height = static_cast<int>(mh);
    m.channels = 3;
    m.data.assign(m.pixels() * 3, 0.15f);
    for (size_t ri = 0; ri < rows.size(); ++ri)
        draw_text(m, gap + 2, gap + static_cast<int>(ri) * (row_h + gap) + (row_h - text_height(1)) / 2, row_label[ri], 1,
                  0.92f);
    // Patches to cut, grouped by record so each image is read once.
    struct Slot {
        size_t pos;
        int x, y;
    };
    std::map<size_t, std::vector<Slot>> by_record;
    for (size_t ri = 0; ri < rows.size(); ++ri) {
        std::vector<size_t>& mem = members[rows[ri]];
        size_t take = std::min(mem.size(), static_cast<size_t>(per_row));
        for (size_t i = 0; i < take; ++i) std::swap(mem[i], mem[i + rng() % (mem.size() - i)]);
        std::vector<size_t> chosen(mem.begin(), mem.begin() + static_cast<long>(take));
        std::stable_sort(chosen.begin(), chosen.end(), [&](size_t a, size_t b) { return dist[a] < dist[b]; });
        for (size_t i = 0; i < chosen.size(); ++i) {
            auto [r, p] = locate(corpus, chosen[i]);
            by_record[r].push_back({p, gap + band + static_cast<int>(i) * (cell + gap),
                                    gap + static_cast<int>(ri) * (row_h + gap) + (row_h - cell) / 2});
        }
    }
    for (auto& [r, slots] : by_record) {
        const CodeRecord& rec = corpus.records[r];
        std::string path = find_source_image(rec.source, opt.images_dir, "mosaic");
        Image img = to_rgb(read_image(path));
        if (static_cast<uint32_t>(img.width) != rec.image_width || static_cast<uint32_t>(img.height) != rec.image_height)
            throw error_at(display_name(path), "image is " + std::to_string(img.width) + "x" +
                                                   std::to_string(img.height) + " but its codes (record " +
                                                   std::to_string(r + 1) + ") were made from a " +
                                                   std::to_string(rec.image_width) + "x" +
                                                   std::to_string(rec.image_height) + " image");
        auto reflect = [](int v, int n) {
            if (n == 1) return 0;
            int period = 2 * (n - 1);
            v %= period;
            if (v < 0) v += period;
            return v < n ? v : period - v;
        };
        for (const Slot& s : slots) {
            int row = static_cast<int>(s.pos / rec.grid_w), col = static_cast<int>(s.pos % rec.grid_w);
            for (int y = 0; y < cell; ++y) {
                int sy = reflect(row * P + y / scale, img.height);
                for (int x = 0; x < cell; ++x) {
                    int sx = reflect(col * P + x / scale, img.width);
                    for (int ch = 0; ch < 3; ++ch) m.at(s.y + y, s.x + x, ch) = img.at(sy, sx, ch);
                }
            }
        }
    }
    write_image(opt.mosaic, m);
}

}  // namespace

std::string find_source_image(const std::string& source, const std::string& dir, const std::string& what) {
    std::vector<std::string> tried;
    if (!dir.empty()) {
        if (!source.empty() && source[0] != '/') tried.push_back(dir + "/" + source);
        std::string base = source.substr(source.find_last_of('/') == std::string::npos ? 0 : source.find_last_of('/') + 1);
        tried.push_back(dir + "/" + base);
    } else {
        tried.push_back(source);
    }
    for (const auto& p : tried)
        if (!source.empty() && source != "-" && is_regular_file(p)) return p;
    std::string msg = what + ": source image '" + source + "' not found";
    if (dir.empty()) msg += " (use --images DIR to say where the images are)";
    else msg += " (looked for " + tried.back() + ")";
    throw Error(msg);
}

int cluster_main(const ClusterOptions& opt) {
    set_faiss_threads(opt.threads);
    Centroids cent;
    const bool reuse = !opt.centroids.empty();
    if (reuse) {
        cent = load_centroids(opt.centroids);
        if (opt.k_given && static_cast<size_t>(opt.kmeans.k) != cent.k)
            throw UsageError("-k " + std::to_string(opt.kmeans.k) + " contradicts --centroids (k=" +
                             std::to_string(cent.k) + ")");
    }
    if (!opt.output.empty() && opt.output != "-" && opt.output == opt.mosaic)
        throw UsageError("-o and --mosaic name the same file");
    protect_inputs(opt.inputs);
    if (reuse) protect_inputs({opt.centroids});
    Corpus corpus = read_corpus(opt.inputs);
    if (corpus.records.empty()) throw Error(input_names(opt.inputs) + ": no code records (empty stream)");
    if (corpus.total == 0) throw Error("the code records hold no grid positions");
    const CodeRecord& first = corpus.records.front();
    const size_t dim = corpus.K;
    size_t nnz = 0;
    for (const CodeRecord& rec : corpus.records) nnz += rec.nnz();
    const bool sparse = opt.distances == "sparse" || (opt.distances == "auto" && sparse_kmeans_pays(corpus.total, nnz, dim));
    if (reuse) {
        if (cent.dim != dim)
            throw Error(display_name(opt.centroids) + ": centroids have " + std::to_string(cent.dim) +
                        " dimensions but the codes have K=" + std::to_string(dim));
        if (!cent.fingerprint.empty() && cent.fingerprint != first.fingerprint)
            throw Error(display_name(opt.centroids) + ": centroids were trained on codes of model " + cent.fingerprint +
                        ", not " + first.fingerprint);
    } else {
        const size_t k = static_cast<size_t>(opt.kmeans.k);
        if (k > corpus.total)
            throw Error("k (" + std::to_string(k) + ") is larger than the number of code vectors (" +
                        std::to_string(corpus.total) + ")");
        size_t m = opt.max_points > 0 ? opt.max_points : std::max(k, std::min(corpus.total, 256 * k));
        m = std::min(m, corpus.total);
        if (m < k)
            throw UsageError("--max-points " + std::to_string(m) + " is smaller than k (" + std::to_string(k) + ")");
        std::vector<size_t> idx = sample_indices(corpus.total, m, opt.kmeans.seed);
        if (opt.verbose)
            warn("training k-means: " + std::to_string(m) + " of " + std::to_string(corpus.total) + " vectors, K=" +
                 std::to_string(dim) + ", k=" + std::to_string(k) + (sparse ? " (sparse products)" : ""));
        if (sparse) {
            SparseRows train;
            train.dim = dim;
            for (size_t i = 0; i < m; ++i) {
                auto [r, p] = locate(corpus, idx[i]);
                const CodeRecord& rec = corpus.records[r];
                train.add_row(rec.indices.data() + rec.row_ptr[p], rec.values.data() + rec.row_ptr[p],
                              rec.row_ptr[p + 1] - rec.row_ptr[p]);
            }
            idx = std::vector<size_t>();
            cent = kmeans_train_sparse(train, opt.kmeans);
        } else {
            std::vector<float> train(m * dim);
            for (size_t i = 0; i < m; ++i) {
                auto [r, p] = locate(corpus, idx[i]);
                densify(corpus.records[r], p, 1, train.data() + i * dim);
            }
            idx = std::vector<size_t>();
            cent = kmeans_train(train.data(), m, dim, opt.kmeans);
        }
        cent.fingerprint = first.fingerprint;
        cent.grid_h = first.grid_h;
        cent.grid_w = first.grid_w;
        cent.d = first.d;
    }
    // Assign every vector: sparse rows a record at a time, or dense blocks of positions.
    std::vector<int32_t> labels(corpus.total);
    std::vector<float> dist(corpus.total);
    if (sparse) {
        std::vector<int64_t> lab;
        for (size_t r = 0; r < corpus.records.size(); ++r) {
            const CodeRecord& rec = corpus.records[r];
            SparseRows rows;
            rows.dim = dim;
            rows.ptr.assign(rec.row_ptr.begin(), rec.row_ptr.end());
            rows.idx.assign(rec.indices.begin(), rec.indices.end());
            rows.val = rec.values;
            lab.resize(rec.positions());
            kmeans_assign_sparse(cent, rows, lab.data(), dist.data() + corpus.offset[r]);
            for (size_t i = 0; i < lab.size(); ++i) labels[corpus.offset[r] + i] = static_cast<int32_t>(lab[i]);
        }
    } else {
        // at most 8192 vectors or 64 MiB a block, whatever K says
        const size_t block = std::max<size_t>(1, std::min<size_t>({8192, corpus.total, (size_t(1) << 24) / dim}));
        std::vector<float> buf(block * dim);
        std::vector<int64_t> lab(block);
        size_t g = 0;
        while (g < corpus.total) {
            size_t n = 0;
            size_t start = g;
            while (n < block && g < corpus.total) {
                auto [r, p] = locate(corpus, g);
                const CodeRecord& rec = corpus.records[r];
                size_t cnt = std::min(block - n, rec.positions() - p);
                densify(rec, p, cnt, buf.data() + n * dim);
                n += cnt;
                g += cnt;
            }
            kmeans_assign(cent, buf.data(), n, lab.data(), dist.data() + start);
            for (size_t i = 0; i < n; ++i) labels[start + i] = static_cast<int32_t>(lab[i]);
        }
    }
    cent.points = corpus.total;
    if (opt.verbose) {
        double sum = 0;
        for (float v : dist) sum += v;
        warn(std::to_string(corpus.records.size()) + " records, " + std::to_string(corpus.total) +
             " vectors, mean distance " + std::to_string(sum / static_cast<double>(corpus.total)));
    }
    // Assignments.
    {
        AtomicOutput out(opt.output);
        FILE* f = out.get();
        if (opt.tsv) std::fputs("record\tsource\trow\tcol\tcluster\tdistance\n", f);
        for (size_t r = 0; r < corpus.records.size(); ++r) {
            const CodeRecord& rec = corpus.records[r];
            std::string src = opt.tsv ? tsv_escape(rec.source) : nlohmann::json(rec.source).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            for (size_t p = 0; p < rec.positions(); ++p) {
                size_t g = corpus.offset[r] + p;
                unsigned row = static_cast<unsigned>(p / rec.grid_w), col = static_cast<unsigned>(p % rec.grid_w);
                if (opt.tsv)
                    std::fprintf(f, "%zu\t%s\t%u\t%u\t%d\t%.6g\n", r, src.c_str(), row, col, labels[g],
                                 static_cast<double>(dist[g]));
                else
                    std::fprintf(f, "{\"record\":%zu,\"source\":%s,\"row\":%u,\"col\":%u,\"cluster\":%d,\"distance\":%.6g}\n",
                                 r, src.c_str(), row, col, labels[g], static_cast<double>(dist[g]));
            }
        }
        if (std::ferror(f)) throw Error(out.name() + ": write error: " + std::strerror(errno ? errno : EIO));
        // The mosaic and centroid file first, so a missing image leaves no partial set of outputs behind.
        if (!opt.mosaic.empty()) draw_mosaic(opt, corpus, cent, labels, dist);
        if (!opt.save_centroids.empty()) save_centroids(opt.save_centroids, cent);
        out.commit();
    }
    return kExitOk;
}

}  // namespace scvae
