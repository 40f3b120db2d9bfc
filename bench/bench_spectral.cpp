// bench_spectral - the spectral step of scvae-segment on real codes: subspace iteration against the dense
// eigendecomposition it replaced, in the same process.
//
//   bench_spectral [--dims D] [--threads T] [--bandwidth F] [--previous] CODES...
//
// CODES are code streams (scvae-encode output; '-' = stdin). For each record the grid's codes become the dense
// points scvae-segment clusters (one column per atom the record uses), and spectral_embedding runs on them with
// SpectralSolver::Subspace for every record first, then SpectralSolver::Dense (the LAPACK dsyevr path), so the
// peak RSS (getrusage ru_maxrss, which only grows) after the first pass is the subspace path's and after the
// second the dense path's. Prints one line per record (grid, time of each, ratio, largest difference between
// the two embeddings) and a summary line of JSON. --previous then also runs scvae 0.1's implementation (kept
// here verbatim: the affinity as LibTorch float64 tensors, L = I - D^-1/2 W D^-1/2 in full, dsyevr), last, since
// its temporaries set the peak RSS. --bandwidth is the Gaussian width as a fraction of the median distance
// (default: scvae-segment's); scvae 0.1's kernel is --bandwidth 1, so compare embeddings with --previous there.
#include <sys/resource.h>

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "scvae/cluster.h"
#include "scvae/codes.h"
#include "scvae/segment.h"

using namespace scvae;

extern "C" void dsyevr_(const char* jobz, const char* range, const char* uplo, const int* n, double* a,
                        const int* lda, const double* vl, const double* vu, const int* il, const int* iu,
                        const double* abstol, int* m, double* w, double* z, const int* ldz, int* isuppz, double* work,
                        const int* lwork, int* iwork, const int* liwork, int* info);

namespace {

// scvae 0.1's spectral embedding (lib/src/segment/spectral.cpp before the subspace iteration), for comparison.
namespace previous {
torch::Tensor smallest_eigenvectors(torch::Tensor A, int dims) {
    const int n = static_cast<int>(A.size(0)), il = 1, iu = dims;
    A = A.contiguous();
    const double vl = 0, vu = 0, abstol = 0;
    int m = 0, info = 0, lwork = -1, liwork = -1, iwork_query = 0;
    double work_query = 0;
    std::vector<double> w(static_cast<size_t>(n));
    torch::Tensor Z = torch::empty({dims, n}, torch::kFloat64);
    std::vector<int> isuppz(2 * static_cast<size_t>(dims));
    dsyevr_("V", "I", "L", &n, A.data_ptr<double>(), &n, &vl, &vu, &il, &iu, &abstol, &m, w.data(),
            Z.data_ptr<double>(), &n, isuppz.data(), &work_query, &lwork, &iwork_query, &liwork, &info);
    lwork = static_cast<int>(work_query);
    liwork = iwork_query;
    std::vector<double> work(static_cast<size_t>(lwork));
    std::vector<int> iwork(static_cast<size_t>(liwork));
    dsyevr_("V", "I", "L", &n, A.data_ptr<double>(), &n, &vl, &vu, &il, &iu, &abstol, &m, w.data(),
            Z.data_ptr<double>(), &n, isuppz.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
    if (info != 0 || m != dims) throw std::runtime_error("dsyevr failed");
    return Z.t().contiguous();
}

std::vector<float> spectral_embedding(const float* x, size_t n, size_t dim, int dims) {
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
    torch::Tensor idx = U.abs().argmax(0);
    torch::Tensor sgn = U.gather(0, idx.unsqueeze(0)).sign();
    sgn = torch::where(sgn == 0, torch::ones_like(sgn), sgn);
    U = (U * sgn).to(torch::kFloat32).contiguous();
    return std::vector<float>(U.data_ptr<float>(), U.data_ptr<float>() + U.numel());
}
}  // namespace previous

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
long peak_rss_kb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

struct Points {
    std::string source;
    unsigned grid_h = 0, grid_w = 0;
    size_t n = 0, dim = 0;
    std::vector<float> x;
};

Points points_of(const CodeRecord& rec) {
    Points p;
    p.source = rec.source;
    p.grid_h = rec.grid_h;
    p.grid_w = rec.grid_w;
    p.n = rec.positions();
    p.x = used_atom_points(rec, &p.dim);  // what segment_codes clusters
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    int dims = 2, threads = 0;
    bool with_previous = false;
    double bandwidth = kDefaultSpectralBandwidth;
    std::vector<std::string> inputs;
    try {
        for (int i = 1; i < argc; ++i) {
            std::string s = argv[i];
            if (s == "--dims" && i + 1 < argc) dims = std::stoi(argv[++i]);
            else if (s == "--threads" && i + 1 < argc) threads = std::stoi(argv[++i]);
            else if (s == "--bandwidth" && i + 1 < argc) bandwidth = std::stod(argv[++i]);
            else if (s == "--previous") with_previous = true;
            else if (s == "-h" || s == "--help") {
                std::printf("usage: bench_spectral [--dims D] [--threads T] [--bandwidth F] [--previous] CODES...\n");
                return 0;
            } else inputs.push_back(s);
        }
    } catch (const std::exception&) {  // std::stoi/stod on a non-number
        inputs.clear();
    }
    if (inputs.empty() || !(bandwidth > 0) || !std::isfinite(bandwidth)) {
        std::fprintf(stderr, "usage: bench_spectral [--dims D] [--threads T] [--bandwidth F] [--previous] CODES...\n");
        return 2;
    }
    set_faiss_threads(threads);  // OpenMP and OpenBLAS; 0 = every CPU
    torch::set_num_threads(threads > 0 ? threads : static_cast<int>(available_cpus()));
    std::vector<Points> pts;
    try {
        for_each_record(inputs, [&](const CodeRecord& rec, const std::string&) { pts.push_back(points_of(rec)); });
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_spectral: %s\n", e.what());
        return 1;
    }
    const long rss0 = peak_rss_kb();
    std::vector<std::vector<float>> sub(pts.size()), dense(pts.size());
    std::vector<double> t_sub(pts.size()), t_dense(pts.size());
    std::vector<int> products(pts.size());
    int fallbacks = 0;  // records where the iteration gave up and the dense path answered
    for (size_t i = 0; i < pts.size(); ++i) {
        double t = now();
        SpectralStats st;
        sub[i] = spectral_embedding(pts[i].x.data(), pts[i].n, pts[i].dim, dims, SpectralSolver::Subspace, bandwidth, &st);
        products[i] = st.products;
        fallbacks += st.iterated ? 0 : 1;
        t_sub[i] = now() - t;
    }
    const long rss_sub = peak_rss_kb();
    for (size_t i = 0; i < pts.size(); ++i) {
        double t = now();
        dense[i] = spectral_embedding(pts[i].x.data(), pts[i].n, pts[i].dim, dims, SpectralSolver::Dense, bandwidth);
        t_dense[i] = now() - t;
    }
    const long rss_dense = peak_rss_kb();
    double sum_sub = 0, sum_dense = 0, worst = 0;
    for (size_t i = 0; i < pts.size(); ++i) {
        double diff = 0;
        for (size_t j = 0; j < sub[i].size(); ++j) diff = std::max(diff, double(std::fabs(sub[i][j] - dense[i][j])));
        worst = std::max(worst, diff);
        sum_sub += t_sub[i];
        sum_dense += t_dense[i];
        std::printf("%s: grid %ux%u, %zu atoms: subspace %.3f s (%d products), dense %.3f s (%.1fx), max |difference| %.2g\n",
                    pts[i].source.c_str(), pts[i].grid_h, pts[i].grid_w, pts[i].dim, t_sub[i], products[i], t_dense[i],
                    t_dense[i] / std::max(t_sub[i], 1e-9), diff);
    }
    double sum_prev = 0, worst_prev = 0;
    long rss_prev = 0;
    if (with_previous) {
        for (size_t i = 0; i < pts.size(); ++i) {
            double t = now();
            std::vector<float> e = previous::spectral_embedding(pts[i].x.data(), pts[i].n, pts[i].dim, dims);
            const double dt = now() - t;
            sum_prev += dt;
            double diff = 0;
            for (size_t j = 0; j < e.size(); ++j) diff = std::max(diff, double(std::fabs(e[j] - sub[i][j])));
            worst_prev = std::max(worst_prev, diff);
            std::printf("%s: previous (scvae 0.1) %.3f s (%.1fx the subspace path), max |difference| %.2g\n",
                        pts[i].source.c_str(), dt, dt / std::max(t_sub[i], 1e-9), diff);
        }
        rss_prev = peak_rss_kb();
    }
    const double n = static_cast<double>(std::max<size_t>(pts.size(), 1));
    double mean_products = 0;
    for (int v : products) mean_products += v;
    mean_products /= static_cast<double>(std::max<size_t>(pts.size(), 1));
    std::printf("{\"records\":%zu,\"dims\":%d,\"bandwidth\":%g,\"subspace_products\":%.1f,\"subspace_fallbacks\":%d,\"subspace_s\":%.4f,\"dense_s\":%.4f,\"speedup\":%.2f,"
                "\"max_abs_difference\":%.3g,\"peak_rss_kb\":{\"inputs\":%ld,\"subspace\":%ld,\"dense\":%ld",
                pts.size(), dims, bandwidth, mean_products, fallbacks, sum_sub / n, sum_dense / n, sum_dense / std::max(sum_sub, 1e-9), worst, rss0,
                rss_sub, rss_dense);
    if (with_previous)
        std::printf(",\"previous\":%ld},\"previous_s\":%.4f,\"previous_speedup\":%.2f,"
                    "\"previous_max_abs_difference\":%.3g}\n",
                    rss_prev, sum_prev / n, sum_prev / std::max(sum_sub, 1e-9), worst_prev);
    else
        std::printf("}}\n");
    return 0;
}
