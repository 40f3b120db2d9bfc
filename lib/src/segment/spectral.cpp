// spectral.cpp - spectral embedding with LibTorch linear algebra and the per-image segmentation dispatch
// (segment_codes); the torch-free parts (boundary connectivity, masks, overlays, the pixel baseline) are in
// segment.cpp, the program scvae-segment in tools/scvae-segment/.
#include <torch/torch.h>

#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "scvae/cluster.h"
#include "scvae/error.h"
#include "scvae/io.h"
#include "scvae/model.h"
#include "scvae/segment.h"

// LAPACK (liblapack.so.3; OpenBLAS's where installed): the selected eigenpairs of a symmetric matrix by MRRR.
extern "C" void dsyevr_(const char* jobz, const char* range, const char* uplo, const int* n, double* a, const int* lda,
                        const double* vl, const double* vu, const int* il, const int* iu, const double* abstol, int* m,
                        double* w, double* z, const int* ldz, int* isuppz, double* work, const int* lwork, int* iwork,
                        const int* liwork, int* info);

namespace scvae {

namespace {

// The eigenvectors of the `dims` smallest eigenvalues of the symmetric matrix A (n x n, float64, overwritten), as
// an n x dims tensor. dsyevr computes only those (tridiagonal reduction + MRRR on the wanted range): about three
// times faster than the full eigendecomposition torch::linalg_eigh does on a 32 x 32 grid (n = 1024).
torch::Tensor smallest_eigenvectors(torch::Tensor A, int dims) {
    const int n = static_cast<int>(A.size(0)), il = 1, iu = dims;
    A = A.contiguous();
    const double vl = 0, vu = 0, abstol = 0;
    int m = 0, info = 0, lwork = -1, liwork = -1, iwork_query = 0;
    double work_query = 0;
    std::vector<double> w(static_cast<size_t>(n));
    torch::Tensor Z = torch::empty({dims, n}, torch::kFloat64);  // column-major n x dims
    std::vector<int> isuppz(2 * static_cast<size_t>(dims));
    dsyevr_("V", "I", "L", &n, A.data_ptr<double>(), &n, &vl, &vu, &il, &iu, &abstol, &m, w.data(),
            Z.data_ptr<double>(), &n, isuppz.data(), &work_query, &lwork, &iwork_query, &liwork, &info);
    if (info != 0) throw Error("spectral embedding: LAPACK dsyevr workspace query failed (info " + std::to_string(info) + ")");
    lwork = static_cast<int>(work_query);
    liwork = iwork_query;
    std::vector<double> work(static_cast<size_t>(lwork));
    std::vector<int> iwork(static_cast<size_t>(liwork));
    dsyevr_("V", "I", "L", &n, A.data_ptr<double>(), &n, &vl, &vu, &il, &iu, &abstol, &m, w.data(),
            Z.data_ptr<double>(), &n, isuppz.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
    if (info != 0 || m != dims)
        throw Error("spectral embedding: the eigendecomposition did not converge (LAPACK dsyevr info " +
                    std::to_string(info) + ")");
    return Z.t().contiguous();
}

}  // namespace

std::vector<float> spectral_embedding(const float* x, size_t n, size_t dim, int dims) {
    if (n == 0) return {};
    if (dims < 1 || static_cast<size_t>(dims) > n)
        throw Error("spectral embedding: " + std::to_string(dims) + " dimensions asked for " + std::to_string(n) +
                    " points");
    torch::NoGradGuard ng;
    const auto N = static_cast<int64_t>(n);
    torch::Tensor X = torch::from_blob(const_cast<float*>(x), {N, static_cast<int64_t>(dim)}, torch::kFloat32)
                          .to(torch::kFloat64);
    torch::Tensor sq = (X * X).sum(1);
    torch::Tensor D2 = (sq.unsqueeze(1) + sq.unsqueeze(0) - 2.0 * X.matmul(X.t())).clamp_min(0.0);
    D2.fill_diagonal_(0.0);
    torch::Tensor W;
    if (n == 1) {
        W = torch::zeros({1, 1}, torch::kFloat64);
    } else {
        torch::Tensor iu = torch::triu_indices(N, N, 1);
        torch::Tensor d = D2.index({iu[0], iu[1]}).sqrt();
        double s = d.median().item<double>();
        if (!(s > 0)) s = d.mean().item<double>();
        if (s > 0) W = torch::exp(-D2 / (2.0 * s * s));
        else W = torch::ones({N, N}, torch::kFloat64);
        W.fill_diagonal_(0.0);
    }
    torch::Tensor deg = W.sum(1);
    deg = torch::where(deg > 0, deg, torch::ones_like(deg));
    torch::Tensor dinv = deg.rsqrt();
    torch::Tensor L = torch::eye(N, torch::kFloat64) - dinv.unsqueeze(1) * W * dinv.unsqueeze(0);
    L = 0.5 * (L + L.t());
    torch::Tensor U = smallest_eigenvectors(L, dims);
    U = U / U.norm(2, 1, true).clamp_min(1e-12);
    // Fix each eigenvector's sign (largest-magnitude entry positive) so results do not depend on LAPACK's choice.
    torch::Tensor idx = U.abs().argmax(0);
    torch::Tensor sgn = U.gather(0, idx.unsqueeze(0)).sign();
    sgn = torch::where(sgn == 0, torch::ones_like(sgn), sgn);
    U = (U * sgn).to(torch::kFloat32).contiguous();
    return std::vector<float>(U.data_ptr<float>(), U.data_ptr<float>() + U.numel());
}

namespace {

// One image's grid is a small problem (about 1,000 x 512): thread start-up and spin-waiting of OpenMP/OpenBLAS
// cost more than they save (measured 0.4 s vs 3.8 s CPU per image with 2 threads on a busy 2-core machine), so
// the clustering runs on one thread and the previous setting is restored afterwards.
// Larger grids (64 x 64 and up: an n^3 eigendecomposition) keep the threads.
struct SingleThreaded {
    bool on;
    int saved_omp = omp_get_max_threads();
    int saved_torch = torch::get_num_threads();
    explicit SingleThreaded(bool enable) : on(enable) {
        if (!on) return;
        set_faiss_threads(1);
        torch::set_num_threads(1);
    }
    ~SingleThreaded() {
        if (!on) return;
        torch::set_num_threads(saved_torch);
        set_faiss_threads(saved_omp);
    }
};

}  // namespace

constexpr size_t kMaxSpectralCells = 4096;

Segmentation segment_codes(const CodeRecord& rec, const SegmentOptions& opt) {
    const size_t n = rec.positions();
    SingleThreaded single(n <= 2048);
    if (opt.k < 2) throw Error("k must be at least 2 classes");
    if (static_cast<size_t>(opt.k) > n)
        throw Error(rec.source + ": k (" + std::to_string(opt.k) + ") is larger than the number of grid cells (" +
                    std::to_string(n) + ")");
    // Spectral clustering holds several N x N matrices: bounded here rather than by what a header claims.
    if (opt.method == SegmentMethod::Spectral && n > kMaxSpectralCells)
        throw Error(rec.source + ": spectral segmentation of " + std::to_string(n) + " grid cells needs too much memory (at most " +
                    std::to_string(kMaxSpectralCells) + " cells; use --method kmeans)");
    // Only the atoms the record uses anywhere matter (the others are zero at every position and change no
    // distance or similarity), so the dense matrix has one column per used atom: at most nnz columns, not K,
    // and a record cannot make this allocate more than positions x min(K, nnz) floats.
    std::vector<int32_t> column(rec.K, -1);
    size_t used = 0;
    for (uint16_t a : rec.indices)
        if (column[a] < 0) column[a] = static_cast<int32_t>(used++);
    const size_t dim = std::max<size_t>(used, 1);
    std::vector<float> X(n * dim, 0.0f);
    for (size_t p = 0; p < n; ++p)
        for (uint32_t j = rec.row_ptr[p]; j < rec.row_ptr[p + 1]; ++j)
            X[p * dim + static_cast<size_t>(column[rec.indices[j]])] = rec.values[j];
    KMeansOptions ko;
    ko.k = opt.k;
    ko.iters = opt.iters;
    ko.redo = opt.redo;
    ko.seed = opt.seed;
    std::vector<int64_t> lab(n);
    std::vector<float> dist(n);
    if (opt.method == SegmentMethod::KMeans) {
        std::vector<float> train = X;
        Centroids c = kmeans_train(train.data(), n, dim, ko);
        kmeans_assign(c, X.data(), n, lab.data(), dist.data());
    } else {
        std::vector<float> E = spectral_embedding(X.data(), n, dim, opt.k);
        std::vector<float> train = E;
        Centroids c = kmeans_train(train.data(), n, static_cast<size_t>(opt.k), ko);
        kmeans_assign(c, E.data(), n, lab.data(), dist.data());
    }
    std::vector<int> labels(lab.begin(), lab.end());
    return finish_segmentation(std::move(labels), static_cast<int>(rec.grid_h), static_cast<int>(rec.grid_w),
                               opt.k, opt.method, opt.bndcon_threshold);
}

}  // namespace scvae
