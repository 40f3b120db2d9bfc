// spectral.cpp - the spectral embedding (BLAS/LAPACK, float64) and the per-image segmentation dispatch
// (segment_codes); boundary connectivity, masks, overlays and the pixel baseline are in segment.cpp, the program
// scvae-segment in tools/scvae-segment/.
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>

#include "scvae/cluster.h"
#include "scvae/error.h"
#include "scvae/io.h"
#include "scvae/segment.h"

// BLAS and LAPACK (libblas.so.3 / liblapack.so.3: OpenBLAS's where installed), column-major Fortran interfaces.
extern "C" {
void dsyevr_(const char* jobz, const char* range, const char* uplo, const int* n, double* a, const int* lda,
             const double* vl, const double* vu, const int* il, const int* iu, const double* abstol, int* m, double* w,
             double* z, const int* ldz, int* isuppz, double* work, const int* lwork, int* iwork, const int* liwork,
             int* info);
void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha, const double* a,
            const int* lda, const double* beta, double* c, const int* ldc);
void dsymm_(const char* side, const char* uplo, const int* m, const int* n, const double* alpha, const double* a,
            const int* lda, const double* b, const int* ldb, const double* beta, double* c, const int* ldc);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc);
}

namespace scvae {

namespace {

// Eigenpairs of the symmetric matrix A (n x n, column-major, upper triangle read, overwritten) with indices il..iu (1-based, ascending
// eigenvalues) by LAPACK dsyevr (tridiagonal reduction + MRRR on the wanted range). Eigenvectors column-major
// n x (iu - il + 1) into z, eigenvalues into w (at least n entries).
void dsyevr_range(std::vector<double>& A, int n, int il, int iu, std::vector<double>& w, std::vector<double>& z) {
    const int want = iu - il + 1;
    const double vl = 0, vu = 0, abstol = 0;
    int m = 0, info = 0, lwork = -1, liwork = -1, iwork_query = 0;
    double work_query = 0;
    w.assign(static_cast<size_t>(n), 0.0);
    z.assign(static_cast<size_t>(n) * static_cast<size_t>(want), 0.0);
    std::vector<int> isuppz(2 * static_cast<size_t>(want));
    dsyevr_("V", "I", "U", &n, A.data(), &n, &vl, &vu, &il, &iu, &abstol, &m, w.data(), z.data(), &n, isuppz.data(),
            &work_query, &lwork, &iwork_query, &liwork, &info);
    if (info != 0) throw Error("spectral embedding: LAPACK dsyevr workspace query failed (info " + std::to_string(info) + ")");
    lwork = static_cast<int>(work_query);
    liwork = iwork_query;
    std::vector<double> work(static_cast<size_t>(lwork));
    std::vector<int> iwork(static_cast<size_t>(liwork));
    dsyevr_("V", "I", "U", &n, A.data(), &n, &vl, &vu, &il, &iu, &abstol, &m, w.data(), z.data(), &n, isuppz.data(),
            work.data(), &lwork, iwork.data(), &liwork, &info);
    if (info != 0 || m != want)
        throw Error("spectral embedding: the eigendecomposition did not converge (LAPACK dsyevr info " +
                    std::to_string(info) + ")");
}

// M = D^-1/2 W D^-1/2 of the Gaussian affinity (see segment.h), n x n, column-major, its upper triangle only (the
// lower one is garbage), built in one n x n buffer: the Gram matrix X X^T (dsyrk), squared distances, the median distance (one
// copy of the upper triangle, then nth_element), W, the degrees. `lower` gets a lower bound of
// its eigenvalues: -min(max_i 1/deg_i, 1) (W + I is a Gaussian kernel matrix, hence PSD, so M + D^-1 is; and a
// normalised adjacency matrix has its eigenvalues in [-1, 1]).
std::vector<double> normalised_affinity(const float* x, size_t n, size_t dim, double bandwidth, double* lower) {
    const int N = static_cast<int>(n), K = static_cast<int>(dim);
    std::vector<double> X(x, x + n * dim);  // row-major n x dim = column-major dim x n
    std::vector<double> M(n * n, 0.0);
    const double one = 1.0, zero = 0.0;
    dsyrk_("U", "T", &N, &K, &one, X.data(), &K, &zero, M.data(), &N);  // upper triangle of X X^T, column-major
    X = {};
    std::vector<double> sq(n);
    for (size_t i = 0; i < n; ++i) sq[i] = M[i + i * n];
    // Squared distances in the upper triangle (i < j: element (i, j) at i + j*n).
    for (size_t j = 0; j < n; ++j) {
        double* col = &M[j * n];
        for (size_t i = 0; i < j; ++i) col[i] = std::max(sq[i] + sq[j] - 2.0 * col[i], 0.0);
        col[j] = 0.0;
    }
    double s = 0;
    if (n > 1) {
        // The median of the pairwise distances d_ij (i < j): the lower median.
        std::vector<double> upper;
        upper.reserve(n * (n - 1) / 2);
        for (size_t j = 1; j < n; ++j) upper.insert(upper.end(), &M[j * n], &M[j * n] + j);
        auto mid = upper.begin() + static_cast<std::ptrdiff_t>((upper.size() - 1) / 2);
        std::nth_element(upper.begin(), mid, upper.end());
        s = std::sqrt(*mid);
        if (!(s > 0)) {
            double sum = 0;
            for (double d2 : upper) sum += std::sqrt(d2);
            s = sum / static_cast<double>(upper.size());
        }
        s *= bandwidth;
    }
    // W in the upper triangle (the diagonal stays 0; n == 1: W = 0) and the degrees, both by columns: the lower
    // triangle is never touched (dsymm and dsyevr read the upper one).
    // A width so small that 2 s^2 underflows makes the scale -inf: W then takes its limit, 1 at distance 0 and 0
    // elsewhere (0 x -inf would be NaN).
    const double scale = s > 0 ? -1.0 / (2.0 * s * s) : 0.0;
    const bool limit = !std::isfinite(scale);
    std::vector<double> deg(n, 0.0);
    for (size_t j = 1; j < n; ++j) {
        double* col = &M[j * n];
        double sum = 0;
        for (size_t i = 0; i < j; ++i) {
            const double wij = !(s > 0) ? 1.0 : limit ? (col[i] == 0.0 ? 1.0 : 0.0) : std::exp(col[i] * scale);
            col[i] = wij;
            deg[i] += wij;
            sum += wij;
        }
        deg[j] += sum;
    }
    std::vector<double> dinv(n);
    double max_inv_deg = 0;
    for (size_t j = 0; j < n; ++j) {
        const double dj = deg[j] > 0 ? deg[j] : 1.0;
        dinv[j] = 1.0 / std::sqrt(dj);
        max_inv_deg = std::max(max_inv_deg, 1.0 / dj);
    }
    for (size_t j = 0; j < n; ++j)
        for (size_t i = 0; i <= j; ++i) M[i + j * n] = M[i + j * n] * dinv[i] * dinv[j];  // left to right: W_ij <=
        // deg_i, so W_ij / sqrt(deg_i) stays finite where 1 / sqrt(deg_i deg_j) overflows (a narrow kernel leaves
        // cells far from all others with degrees of 1e-300 and below)
    *lower = -std::min(max_inv_deg, 1.0);
    return M;
}

// The eigenvectors of the `dims` largest eigenvalues of M (n x n), column-major n x dims, by dsyevr on the whole
// of L = I - M (the `dims` smallest eigenvalues of L): O(n^3).
std::vector<double> leading_dense(std::vector<double> M, size_t n, int dims) {
    for (size_t j = 0; j < n; ++j)
        for (size_t i = 0; i <= j; ++i) M[i + j * n] = (i == j ? 1.0 : 0.0) - M[i + j * n];
    std::vector<double> w, z;
    dsyevr_range(M, static_cast<int>(n), 1, dims, w, z);
    return z;
}

// The same by Chebyshev-filtered subspace iteration with Rayleigh-Ritz (Zhou and Saad 2007): a block of
// p = dims + 10 vectors. Each step filters the block's Ritz vectors Y by the Chebyshev polynomial T_m of M mapped
// so that [a, b] becomes [-1, 1] (a = `lower`, below every eigenvalue of M; b = the block's smallest Ritz value), which
// damps the eigenvectors below b and grows those above it by cosh(m acosh(.)), orthonormalises the result and
// takes the Ritz pairs of M on it. A plain power step (M + shift I) gains the ratio (lambda_p + shift) /
// (lambda_k + shift) per product; a narrow kernel puts the wanted eigenvalues near 1 with the rest spread up to
// about 0.7, where that ratio is 0.8-0.95 (100-300 products), against 10-30 products with the filter. The
// degree m (1-8) is what the weakest wanted Ritz value needs to reach the tolerance, at most what keeps the
// filter's largest gain on [b, 1] below 1e8, so the orthonormalisation keeps its digits.
// Stops when every wanted Ritz pair has residual ||M y - theta y|| <= 1e-10 (||M|| <= 1); returns false (the
// caller then takes the dense path) when 300 products did not get there, when two filtered steps did not cut the
// residual tenfold, when the wanted Ritz values are no larger than the rest (a filter cannot separate them), or
// on a non-finite residual. `products` gets the n x n x p products spent.
constexpr int kSettleProducts = 2 * 8 + 2;  // the first few steps, where a random start block may still stall

bool leading_subspace(const std::vector<double>& M, size_t n, int dims, double lower, std::vector<double>& out,
                      int* products_out) {
    const int N = static_cast<int>(n);
    const int P = std::min(N, dims + 10);
    const size_t p = static_cast<size_t>(P);
    std::vector<double> Q(n * p), MQ(n * p), Y(n * p), MY(n * p), Z0(n * p), H(p * p), S, w;
    // A fixed pseudo-random start block (the same on every machine).
    std::mt19937_64 gen(0x5c7ae5eedULL);
    auto uniform = [&] { return static_cast<double>(gen() >> 11) * 0x1.0p-53 - 0.5; };
    for (double& v : Y) v = uniform();
    bool first = true;
    double lowest_ritz = 0;  // b: the smallest Ritz value of the last step
    double wanted_ritz = 0;  // the last step's dims-th largest Ritz value
    double residual = 1;     // and its largest residual among the wanted pairs
    const double one = 1.0, zero = 0.0;
    int products = 0;
    double residual_before = HUGE_VAL;  // the residual two steps back
    struct ReportProducts {  // on every return
        const int& n;
        int* out;
        ~ReportProducts() { *out = n; }
    } report{products, products_out};
    while (products < 300) {
        if (first) {
            Q = Y;  // the first step orthonormalises the random block itself
        } else {
            // Chebyshev filter of degree m on [a, b] = [lower, lowest_ritz], by the three-term recurrence
            // Z_{j+1} = 2 (M Z_j - c Z_j) / e - Z_{j-1}, Z_0 = Y, Z_1 = (M Y - c Y) / e (MY is known already).
            const double a = lower, b = std::max(lowest_ritz, a + 1e-3 * (1.0 - a));
            const double e = (b - a) / 2, c = (b + a) / 2;
            // The gain per degree at x (outside [-1, 1]) is x + sqrt(x^2 - 1). The degree: what the weakest wanted
            // Ritz value needs to bring the residual to the tolerance, at most what keeps the gain at 1 below 1e8.
            auto gain = [](double x) { return x + std::sqrt(std::max(x * x - 1.0, 0.0)); };
            const double top = gain((1.0 - c) / e), weakest = gain((wanted_ritz - c) / e);
            const double cap = std::clamp(std::floor(8.0 / std::log10(top)), 1.0, 8.0);
            // Wanted Ritz values at or below b: early on (a block still near its random start), filter at the cap;
            // later, nothing separates them from the rest.
            if (!(weakest > 1.0) && products > kSettleProducts) return false;
            const double need = weakest > 1.0 ? std::ceil(std::log(2.0 * residual / 1e-10) / std::log(weakest)) : cap;
            const int m = static_cast<int>(std::clamp(need, 1.0, cap));
            for (size_t k = 0; k < n * p; ++k) Q[k] = (MY[k] - c * Y[k]) / e;
            Z0 = Y;
            for (int j = 1; j < m; ++j) {
                dsymm_("L", "U", &N, &P, &one, M.data(), &N, Q.data(), &N, &zero, MQ.data(), &N);
                ++products;
                for (size_t k = 0; k < n * p; ++k) {
                    const double next = 2.0 * (MQ[k] - c * Q[k]) / e - Z0[k];
                    Z0[k] = Q[k];
                    Q[k] = next;
                }
            }
        }
        first = false;
        for (size_t c = 0; c < p; ++c) {
            double* qc = &Q[c * n];
            for (int pass = 0; pass < 3; ++pass) {
                const double before = std::sqrt(std::inner_product(qc, qc + n, qc, 0.0));
                for (size_t b = 0; b < c; ++b) {
                    const double* qb = &Q[b * n];
                    const double dot = std::inner_product(qb, qb + n, qc, 0.0);
                    for (size_t i = 0; i < n; ++i) qc[i] -= dot * qb[i];
                }
                const double norm = std::sqrt(std::inner_product(qc, qc + n, qc, 0.0));
                if (norm > 0.5 * before && norm > 1e-300) {
                    for (size_t i = 0; i < n; ++i) qc[i] /= norm;
                    break;
                }
                if (pass == 2) return false;
                if (norm <= 1e-12 * std::max(before, 1e-300)) {
                    for (size_t i = 0; i < n; ++i) qc[i] = uniform();  // lost to cancellation: a fresh direction
                }
                // else: orthogonalise once more (Kahan's "twice is enough")
            }
        }
        // Rayleigh-Ritz: H = Q^T M Q, its eigenpairs (theta, S) in descending order, Y = Q S, MY = (M Q) S.
        dsymm_("L", "U", &N, &P, &one, M.data(), &N, Q.data(), &N, &zero, MQ.data(), &N);
        ++products;
        dgemm_("T", "N", &P, &P, &N, &one, Q.data(), &N, MQ.data(), &N, &zero, H.data(), &P);
        for (size_t a = 0; a < p; ++a)
            for (size_t b = a + 1; b < p; ++b) H[a + b * p] = H[b + a * p] = 0.5 * (H[a + b * p] + H[b + a * p]);
        dsyevr_range(H, P, 1, P, w, S);
        lowest_ritz = w[0];
        std::vector<double> Sd(p * p);
        for (size_t c = 0; c < p; ++c)  // column c of Sd = eigenvector of the c-th largest eigenvalue
            std::copy(&S[(p - 1 - c) * p], &S[(p - 1 - c) * p] + p, &Sd[c * p]);
        dgemm_("N", "N", &N, &P, &P, &one, Q.data(), &N, Sd.data(), &P, &zero, Y.data(), &N);
        dgemm_("N", "N", &N, &P, &P, &one, MQ.data(), &N, Sd.data(), &P, &zero, MY.data(), &N);
        double worst = 0;
        for (int c = 0; c < dims; ++c) {
            const double theta = w[p - 1 - static_cast<size_t>(c)];
            double r = 0;
            for (size_t i = 0; i < n; ++i) {
                const double e = MY[c * n + i] - theta * Y[c * n + i];
                r += e * e;
            }
            if (!(std::sqrt(r) <= worst)) worst = std::sqrt(r);  // NaN stays
        }
        if (!std::isfinite(worst)) return false;
        wanted_ritz = w[p - static_cast<size_t>(dims)];
        // Stalled: past the first few steps, two filtered steps did not cut the residual tenfold.
        if (products > kSettleProducts && worst > 1e-10 && worst > 0.1 * residual_before) return false;
        residual_before = residual;
        residual = worst;
        if (worst <= 1e-10) {
            out.assign(Y.begin(), Y.begin() + static_cast<std::ptrdiff_t>(n * static_cast<size_t>(dims)));
            return true;
        }
    }
    return false;
}

}  // namespace

std::vector<float> spectral_embedding(const float* x, size_t n, size_t dim, int dims, SpectralSolver solver,
                                      double bandwidth, SpectralStats* stats) {
    if (stats) *stats = {};
    if (!(bandwidth > 0) || !std::isfinite(bandwidth))
        throw Error("spectral embedding: the bandwidth must be a positive number, not " + std::to_string(bandwidth));
    if (n == 0) return {};
    if (dims < 1 || static_cast<size_t>(dims) > n)
        throw Error("spectral embedding: " + std::to_string(dims) + " dimensions asked for " + std::to_string(n) +
                    " points");
    if (dim == 0) throw Error("spectral embedding: points of dimension 0");
    double lower = -1;
    std::vector<double> M = normalised_affinity(x, n, dim, bandwidth, &lower);
    std::vector<double> U;  // column-major n x dims
    const bool iterate = solver == SpectralSolver::Subspace ||
                         (solver == SpectralSolver::Auto && n >= kSpectralSubspaceMinCells);
    int products = 0;
    const bool iterated = iterate && n > static_cast<size_t>(dims) + 10 && leading_subspace(M, n, dims, lower, U, &products);
    if (!iterated) U = leading_dense(std::move(M), n, dims);
    if (stats) *stats = {iterated, products};
    // Rows normalised to unit length; then each eigenvector's sign fixed (its largest-magnitude entry, the first
    // of equals, positive) so results do not depend on the solver's choice.
    const size_t d = static_cast<size_t>(dims);
    for (size_t i = 0; i < n; ++i) {
        double s = 0;
        for (size_t c = 0; c < d; ++c) s += U[c * n + i] * U[c * n + i];
        const double inv = 1.0 / std::max(std::sqrt(s), 1e-12);
        for (size_t c = 0; c < d; ++c) U[c * n + i] *= inv;
    }
    std::vector<float> E(n * d);
    for (size_t c = 0; c < d; ++c) {
        size_t arg = 0;
        for (size_t i = 1; i < n; ++i)
            if (std::fabs(U[c * n + i]) > std::fabs(U[c * n + arg])) arg = i;
        const double sgn = U[c * n + arg] < 0 ? -1.0 : 1.0;
        for (size_t i = 0; i < n; ++i) E[i * d + c] = static_cast<float>(sgn * U[c * n + i]);
    }
    return E;
}

namespace {

// One image's grid is a small problem (about 1,000 x 512): thread start-up and spin-waiting of OpenMP/OpenBLAS
// cost more than they save (measured 0.4 s vs 3.8 s CPU per image with 2 threads on a busy 2-core machine), so
// the clustering runs on one thread and the previous setting is restored afterwards.
// Larger grids (64 x 64 and up: n x n products for the eigenvectors) keep the threads. A thread that runs on one
// OpenMP thread already (an image worker of scvae-segment) changes nothing: OpenBLAS's thread count is global,
// and setting it while another worker is inside OpenBLAS corrupted that worker's results.
struct SingleThreaded {
    int saved_omp = omp_get_max_threads();  // before `on`, which reads it
    bool on;
    explicit SingleThreaded(bool enable) : on(enable && saved_omp > 1) {
        if (on) set_faiss_threads(1);  // OpenMP and OpenBLAS
    }
    ~SingleThreaded() {
        if (on) set_faiss_threads(saved_omp);
    }
};

}  // namespace

std::vector<float> used_atom_points(const CodeRecord& rec, size_t* dim) {
    // Only the atoms the record uses anywhere matter (the others are zero at every position and change no
    // distance or similarity), so the dense matrix has one column per used atom: at most nnz columns, not K,
    // and a record cannot make this allocate more than positions x min(K, nnz) floats.
    const size_t n = rec.positions();
    std::vector<int32_t> column(rec.K, -1);
    size_t used = 0;
    for (uint16_t a : rec.indices)
        if (column[a] < 0) column[a] = static_cast<int32_t>(used++);
    *dim = std::max<size_t>(used, 1);
    std::vector<float> X(n * *dim, 0.0f);
    for (size_t p = 0; p < n; ++p)
        for (uint32_t j = rec.row_ptr[p]; j < rec.row_ptr[p + 1]; ++j)
            X[p * *dim + static_cast<size_t>(column[rec.indices[j]])] = rec.values[j];
    return X;
}

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
    size_t dim = 0;
    std::vector<float> X = used_atom_points(rec, &dim);
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
        std::vector<float> E = spectral_embedding(X.data(), n, dim, opt.k, SpectralSolver::Auto, opt.bandwidth);
        std::vector<float> train = E;
        Centroids c = kmeans_train(train.data(), n, static_cast<size_t>(opt.k), ko);
        kmeans_assign(c, E.data(), n, lab.data(), dist.data());
    }
    std::vector<int> labels(lab.begin(), lab.end());
    return finish_segmentation(std::move(labels), static_cast<int>(rec.grid_h), static_cast<int>(rec.grid_w),
                               opt.k, opt.method, opt.bndcon_threshold);
}

}  // namespace scvae
