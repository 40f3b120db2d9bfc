// bench_spectral - the spectral step of scvae-segment on real codes: subspace iteration against the dense
// eigendecomposition it replaced, in the same process.
//
//   bench_spectral [--dims D] [--threads T] CODES...
//
// CODES are code streams (scvae-encode output; '-' = stdin). For each record the grid's codes become the dense
// points scvae-segment clusters (one column per atom the record uses), and spectral_embedding runs on them with
// SpectralSolver::Subspace for every record first, then SpectralSolver::Dense (the LAPACK dsyevr path), so the
// peak RSS (getrusage ru_maxrss, which only grows) after the first pass is the subspace path's and after the
// second the dense path's. Prints one line per record (grid, time of each, ratio, largest difference between
// the two embeddings) and a summary line of JSON.
#include <sys/resource.h>

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

namespace {

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

// The record's codes as segment_codes sees them: one column per atom used anywhere in the record.
Points points_of(const CodeRecord& rec) {
    Points p;
    p.source = rec.source;
    p.grid_h = rec.grid_h;
    p.grid_w = rec.grid_w;
    p.n = rec.positions();
    std::vector<int32_t> column(rec.K, -1);
    size_t used = 0;
    for (uint16_t a : rec.indices)
        if (column[a] < 0) column[a] = static_cast<int32_t>(used++);
    p.dim = std::max<size_t>(used, 1);
    p.x.assign(p.n * p.dim, 0.0f);
    for (size_t q = 0; q < p.n; ++q)
        for (uint32_t j = rec.row_ptr[q]; j < rec.row_ptr[q + 1]; ++j)
            p.x[q * p.dim + static_cast<size_t>(column[rec.indices[j]])] = rec.values[j];
    return p;
}

}  // namespace

int main(int argc, char** argv) {
    int dims = 2, threads = 0;
    std::vector<std::string> inputs;
    for (int i = 1; i < argc; ++i) {
        std::string s = argv[i];
        if (s == "--dims" && i + 1 < argc) dims = std::stoi(argv[++i]);
        else if (s == "--threads" && i + 1 < argc) threads = std::stoi(argv[++i]);
        else if (s == "-h" || s == "--help") {
            std::printf("usage: bench_spectral [--dims D] [--threads T] CODES...\n");
            return 0;
        } else inputs.push_back(s);
    }
    if (inputs.empty()) {
        std::fprintf(stderr, "usage: bench_spectral [--dims D] [--threads T] CODES...\n");
        return 2;
    }
    set_faiss_threads(threads);  // OpenMP and OpenBLAS; 0 = every CPU
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
    for (size_t i = 0; i < pts.size(); ++i) {
        double t = now();
        sub[i] = spectral_embedding(pts[i].x.data(), pts[i].n, pts[i].dim, dims, SpectralSolver::Subspace);
        t_sub[i] = now() - t;
    }
    const long rss_sub = peak_rss_kb();
    for (size_t i = 0; i < pts.size(); ++i) {
        double t = now();
        dense[i] = spectral_embedding(pts[i].x.data(), pts[i].n, pts[i].dim, dims, SpectralSolver::Dense);
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
        std::printf("%s: grid %ux%u, %zu atoms: subspace %.3f s, dense %.3f s (%.1fx), max |difference| %.2g\n",
                    pts[i].source.c_str(), pts[i].grid_h, pts[i].grid_w, pts[i].dim, t_sub[i], t_dense[i],
                    t_dense[i] / std::max(t_sub[i], 1e-9), diff);
    }
    const double n = static_cast<double>(std::max<size_t>(pts.size(), 1));
    std::printf("{\"records\":%zu,\"dims\":%d,\"subspace_s\":%.4f,\"dense_s\":%.4f,\"speedup\":%.2f,"
                "\"max_abs_difference\":%.3g,\"peak_rss_kb\":{\"inputs\":%ld,\"subspace\":%ld,\"dense\":%ld}}\n",
                pts.size(), dims, sum_sub / n, sum_dense / n, sum_dense / std::max(sum_sub, 1e-9), worst, rss0,
                rss_sub, rss_dense);
    return 0;
}
