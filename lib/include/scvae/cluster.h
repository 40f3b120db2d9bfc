// scvae/cluster.h - k-means over sparse code vectors (FAISS), centroid files, assignment and the patch mosaic
// of the paper's Figure 7 (scvae-cluster).
//
// Every grid position of every record is one K-dimensional vector (the dense form of its sparse code).
// Training runs FAISS k-means (faiss::Clustering with an IndexFlatL2, or an IndexFlatIP on unit-norm vectors
// in --spherical mode) on a dense sample; assignment densifies the CSR records in blocks, so memory stays at
// the CSR records plus the dense training sample.
//
// Centroid file (".scvk"), little-endian:
//   bytes 0..3   magic "SCVK"
//   u16          version major (1), u16 version minor (0)
//   u32          header length H, then H bytes of UTF-8 JSON:
//                {"format":"scvae-centroids","version":"1.0","k":..,"dim":..,"spherical":bool,
//                 "fingerprint":"..","grid_h":..,"grid_w":..,"d":..,"objective":..,"iters":..,"seed":..,
//                 "points":..,"trained_on":..}
//   k*dim f32    centroids, row-major
//   u32          CRC-32 (zlib) of every byte before it
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "scvae/codes.h"

namespace scvae {

// Largest |value| of a centroid: a mean of code values (at most kMaxCodeValue) may round a little beyond that
// bound; twice the bound keeps every squared distance to a code vector finite in binary32 for K up to 65536
// ((1e15 + 2e15)^2 * 65536 < 3.4e38).
constexpr float kMaxCentroidValue = 2 * kMaxCodeValue;

struct KMeansOptions {
    int k = 8;
    int iters = 25;         // Lloyd iterations
    int redo = 1;           // runs with different seeds; the best objective is kept
    uint64_t seed = 1234;
    bool spherical = false; // cosine k-means: unit-norm vectors and centroids, inner product
    bool verbose = false;
};

// A trained k-means model and the facts needed to reuse it on new codes.
struct Centroids {
    size_t k = 0;
    size_t dim = 0;
    bool spherical = false;
    std::vector<float> data;  // k x dim, row-major
    // Where the vectors came from (empty/zero when unknown, e.g. for plain matrices).
    std::string fingerprint;
    uint32_t grid_h = 0, grid_w = 0, d = 0;
    double objective = 0;     // final k-means objective (sum of distances) on the training sample
    int iters = 0;
    uint64_t seed = 0;
    uint64_t points = 0;      // vectors assigned when the file was written
    uint64_t trained_on = 0;  // vectors in the training sample
};

// k-means on a dense n x dim row-major matrix. Throws Error when k > n or n == 0 or k < 1, or when a value is
// not finite or beyond kMaxCodeValue (FAISS would abort on the overflowing distances).
// In spherical mode the rows are normalised in place (zero rows stay zero).
Centroids kmeans_train(float* x, size_t n, size_t dim, const KMeansOptions& opt);

// Nearest centroid for each of n rows: labels[i] in [0,k), dist[i] = squared L2 distance, or 1 - cosine in
// spherical mode (rows are normalised in place in that mode).
void kmeans_assign(const Centroids& c, float* x, size_t n, int64_t* labels, float* dist);

// Normalises each row to unit L2 norm (zero rows stay zero).
void normalize_rows(float* x, size_t n, size_t dim);

// A sparse n x dim matrix in CSR form (the layout of code records): the nonzeros of row i are
// idx[ptr[i] .. ptr[i+1]) with values val[...]; indices < dim.
struct SparseRows {
    size_t dim = 0;
    std::vector<size_t> ptr{0};  // rows + 1 entries
    std::vector<uint32_t> idx;
    std::vector<float> val;
    size_t rows() const { return ptr.size() - 1; }
    size_t nnz() const { return idx.size(); }
    void add_row(const uint16_t* i, const float* v, size_t count);
};

// k-means on sparse rows: the algorithm of kmeans_train (the same seeding, FAISS's random initialisation for
// large problems, Lloyd iterations, empty clusters split off large ones, the same objective), with distance
// products that cost nnz x k per row instead of dim x k: for codes with a few dozen nonzeros of 512 atoms,
// 10-25 times less work than the dense BLAS product. In spherical mode the rows are normalised in place.
// Results equal kmeans_train's up to float rounding (sums are accumulated in double here).
Centroids kmeans_train_sparse(SparseRows& x, const KMeansOptions& opt);

// kmeans_assign for sparse rows (spherical mode: the rows are normalised in place).
void kmeans_assign_sparse(const Centroids& c, SparseRows& x, int64_t* labels, float* dist);

// Whether the sparse path pays: fewer than dim/8 nonzeros per row on average (a BLAS product runs about 8 times
// more flops per second than the sparse one).
bool sparse_kmeans_pays(size_t rows, size_t nnz, size_t dim);

// Centroid files (format above). save is atomic; load throws Error("<path>: <reason>").
void save_centroids(const std::string& path, const Centroids& c);
// Every centroid value must be finite with |value| <= kMaxCentroidValue.
Centroids load_centroids(const std::string& path);
// The same for a file already in memory (`name` in messages).
Centroids parse_centroids(const std::vector<uint8_t>& bytes, const std::string& name);

// Finds a source image: `dir`/source, then `dir`/basename(source) when dir is given, else source itself.
// Throws Error("<what>: source image '<source>' not found ...") when none exists.
std::string find_source_image(const std::string& source, const std::string& dir, const std::string& what);

// OpenMP / FAISS threads (n <= 0: available_cpus()).
void set_faiss_threads(int n);

}  // namespace scvae
