// kmeans.cpp - FAISS k-means over sparse code vectors, centroid files, assignments and the Figure 7 mosaic.
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

#include "io/bytes.h"
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
// take(pick, j) copies point `pick` into centroid j; dist(i, pick) is the squared distance of points i and pick.
template <class Take, class Dist>
void kmeanspp(size_t n, size_t k, uint64_t seed, Take take, Dist dist) {
    std::mt19937_64 rng(seed);
    std::vector<double> best(n, std::numeric_limits<double>::infinity());
    size_t pick = static_cast<size_t>(rng() % n);
    for (size_t j = 0; j < k; ++j) {
        take(pick, j);
        double total = 0;
        for (size_t i = 0; i < n; ++i) {
            const double s = dist(i, pick);
            if (s < best[i]) best[i] = s;
            total += best[i];
        }
        if (j + 1 == k) break;
        pick = kmeanspp_draw(rng, best, total);
    }
}

std::vector<float> kmeanspp_init(const float* x, size_t n, size_t dim, size_t k, uint64_t seed) {
    std::vector<float> c(k * dim);
    kmeanspp(
        n, k, seed,
        [&](size_t pick, size_t j) {
            std::copy(x + pick * dim, x + (pick + 1) * dim, c.begin() + static_cast<long>(j * dim));
        },
        [&](size_t i, size_t pick) {
            const float *xi = x + i * dim, *cj = x + pick * dim;
            double s = 0;
            for (size_t t = 0; t < dim; ++t) {
                const double d = double(xi[t]) - cj[t];
                s += d * d;
            }
            return s;
        });
    return c;
}

// k-means of n vectors of dimension dim into opt.k clusters: a problem that can be solved.
void check_kmeans_problem(size_t n, size_t dim, const KMeansOptions& opt) {
    if (opt.k < 1) throw Error("k must be at least 1");
    if (n == 0) throw Error("no vectors to cluster");
    if (static_cast<size_t>(opt.k) > n)
        throw Error("k (" + std::to_string(opt.k) + ") is larger than the number of vectors (" + std::to_string(n) +
                    ")");
    if (dim == 0) throw Error("vectors have dimension 0");
}

}  // namespace

Centroids kmeans_train(float* x, size_t n, size_t dim, const KMeansOptions& opt) {
    check_kmeans_problem(n, dim, opt);
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
    const size_t dim = x.dim;
    std::vector<float> c(k * dim, 0.0f);
    kmeanspp(
        x.rows(), k, seed,
        [&](size_t pick, size_t j) {
            for (size_t t = x.ptr[pick]; t < x.ptr[pick + 1]; ++t) c[j * dim + x.idx[t]] = x.val[t];
        },
        [&](size_t i, size_t pick) {
            size_t a = x.ptr[i], ae = x.ptr[i + 1], b = x.ptr[pick];
            const size_t pe = x.ptr[pick + 1];
            double s = 0;
            while (a < ae || b < pe) {
                double d;
                if (b >= pe || (a < ae && x.idx[a] < x.idx[b])) d = double(x.val[a++]);
                else if (a >= ae || x.idx[b] < x.idx[a]) d = -double(x.val[b++]);
                else d = double(x.val[a++]) - x.val[b++];
                s += d * d;
            }
            return s;
        });
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
    check_kmeans_problem(n, dim, opt);
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

}  // namespace scvae
