// bench_cluster - scvae-cluster at the scale of the paper's Figure 7, and per-image segmentation time.
//
//   bench_cluster [--records N] [--grid G] [--dim K] [-k CLUSTERS] [--iters I] [--threads T]
//                 [--nnz LO-HI] [--baseline F] [--segment N] [--skip-cluster]
//                 [--distances auto|dense|sparse] [--no-dense]
//
// Defaults: 1000 records of a 16x16 grid (256,000 vectors) of K=512 sparse codes with 10..30 non-zeros each
// (drawn around 2,000 random sparse prototypes, so the data has cluster structure), clustered into 1,000
// groups with 10 iterations - the scale of section 5.3. The codes are written to a temporary binary stream and
// cluster_main() runs on it exactly as `scvae-cluster -k 1000 --iters I codes.scv -o out.jsonl` would (stream
// read once, CSR kept, dense training sample, blocked assignment, JSON Lines written).
// A baseline run of the same pipeline on F (default 0.1) of the records and k, made first in the same process,
// gives the ratios (time and peak RSS from getrusage ru_maxrss, which only grows, hence baseline first).
// Both use --distances (default auto: sparse products for these codes); the full run is then repeated with
// dense BLAS products (unless --no-dense), and both are set against the GEMM bound measured in the same run.
// --segment N then times scvae-segment's work on N random 256x256 images with a freshly initialised cpu-f8
// model (the default model's architecture, d=3, 32x32 grid): encode alone, k-means (k=5) alone, spectral (k=2)
// alone, and encode + segmentation per image.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include "scvae-cluster/cluster_tool.h"
#include "scvae/codes.h"
#include "scvae/io.h"
#include "scvae/model.h"
#include "scvae/segment.h"

// The BLAS that FAISS calls for its distance products (libblas.so.3: OpenBLAS where installed).
extern "C" int sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                      const float* alpha, const float* a, const int* lda, const float* b, const int* ldb,
                      const float* beta, float* c, const int* ldc);

using namespace scvae;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double peak_rss_mib() {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

struct Args {
    int records = 1000, grid = 16, dim = 512, k = 1000, iters = 10, threads = 0, nnz_lo = 10, nnz_hi = 30;
    double baseline = 0.1;
    int segment = 3;
    bool skip_cluster = false;
    bool dense_too = true;            // also time the full run with --distances dense
    std::string distances = "auto";   // scvae-cluster --distances of the baseline and full runs
};

// Writes `records` records of synthetic sparse codes; returns the number of non-zeros.
size_t write_codes(const std::string& path, const Args& a, int records, uint64_t seed) {
    std::mt19937_64 rng(seed);
    const int protos = 2000;
    std::vector<std::vector<uint16_t>> support(protos);
    std::vector<std::vector<float>> value(protos);
    for (int p = 0; p < protos; ++p) {
        int nnz = a.nnz_lo + static_cast<int>(rng() % static_cast<uint64_t>(a.nnz_hi - a.nnz_lo + 1));
        std::vector<uint16_t> s;
        while (static_cast<int>(s.size()) < nnz) {
            uint16_t j = static_cast<uint16_t>(rng() % static_cast<uint64_t>(a.dim));
            if (std::find(s.begin(), s.end(), j) == s.end()) s.push_back(j);
        }
        std::sort(s.begin(), s.end());
        support[p] = s;
        for (size_t i = 0; i < s.size(); ++i)
            value[p].push_back(std::normal_distribution<float>(0.f, 1.f)(rng));
    }
    std::normal_distribution<float> noise(0.f, 0.1f);
    AtomicOutput out(path);
    CodeWriter w(out.get(), path);
    CodeRecord rec;
    rec.fingerprint = "0123456789abcdef";
    rec.n = 256;
    rec.K = static_cast<uint32_t>(a.dim);
    rec.d = 4;
    rec.grid_h = rec.grid_w = static_cast<uint32_t>(a.grid);
    rec.image_width = rec.image_height = static_cast<uint32_t>(a.grid * 16);
    size_t nnz = 0;
    for (int r = 0; r < records; ++r) {
        rec.source = "img" + std::to_string(r) + ".png";
        rec.row_ptr.assign(1, 0);
        rec.indices.clear();
        rec.values.clear();
        for (int p = 0; p < a.grid * a.grid; ++p) {
            int q = static_cast<int>(rng() % protos);
            for (size_t i = 0; i < support[q].size(); ++i) {
                rec.indices.push_back(support[q][i]);
                rec.values.push_back(value[q][i] + noise(rng));
            }
            rec.row_ptr.push_back(static_cast<uint32_t>(rec.indices.size()));
        }
        nnz += rec.indices.size();
        w.write(rec);
    }
    out.commit();
    return nnz;
}

struct RunResult {
    double seconds = 0, rss = 0;
    size_t vectors = 0, nnz = 0;
};

RunResult run_cluster(const Args& a, int records, int k, const std::string& tag, const std::string& distances) {
    std::string dir = "/tmp";
    if (const char* t = std::getenv("TMPDIR")) dir = t;
    std::string codes = dir + "/bench_cluster." + std::to_string(::getpid()) + "." + tag + ".scv";
    std::string out = dir + "/bench_cluster." + std::to_string(::getpid()) + "." + tag + ".jsonl";
    RunResult r;
    r.nnz = write_codes(codes, a, records, 42);
    r.vectors = static_cast<size_t>(records) * a.grid * a.grid;
    ClusterOptions o;
    o.inputs = {codes};
    o.output = out;
    o.kmeans.k = k;
    o.kmeans.iters = a.iters;
    o.threads = a.threads;
    o.distances = distances;
    auto t0 = Clock::now();
    cluster_main(o);
    r.seconds = seconds_since(t0);
    r.rss = peak_rss_mib();
    std::remove(codes.c_str());
    std::remove(out.c_str());
    double dense = static_cast<double>(r.vectors) * a.dim * 4 / 1048576.0;
    double csr = (static_cast<double>(r.nnz) * 6 + static_cast<double>(r.vectors) * 4) / 1048576.0;
    std::printf("%-11s %8zu vectors x %d dims -> %5d clusters, %d iters: %8.2f s  peak RSS %7.1f MiB"
                "  (dense matrix %.1f MiB, CSR %.1f MiB, mean nnz %.1f)\n",
                tag.c_str(), r.vectors, a.dim, k, a.iters, r.seconds, r.rss, dense, csr,
                static_cast<double>(r.nnz) / static_cast<double>(r.vectors));
    std::fflush(stdout);
    return r;
}

// The compute floor of one k-means pass over `vectors` points: the distance products x . c^T alone, computed
// as FAISS blocks them (4096 points x 1024 centroids at a time), with random data of the same shape.
double gemm_pass_seconds(size_t vectors, int dim, int k) {
    const int bx = 4096, by = std::min(k, 1024);
    std::vector<float> x(size_t(bx) * dim), c(size_t(k) * dim), ip(size_t(bx) * by);
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (auto& v : x) v = u(rng);
    for (auto& v : c) v = u(rng);
    const float one = 1.f, zero = 0.f;
    auto pass = [&](size_t n) {
        for (size_t i0 = 0; i0 < n; i0 += bx) {
            int nx = static_cast<int>(std::min<size_t>(bx, n - i0));
            for (int j0 = 0; j0 < k; j0 += by) {
                int ny = std::min(by, k - j0);
                sgemm_("T", "N", &ny, &nx, &dim, &one, c.data() + size_t(j0) * dim, &dim, x.data(), &dim, &zero,
                       ip.data(), &ny);
            }
        }
    };
    pass(size_t(bx) * 2);  // warm up the BLAS thread pool
    auto t0 = Clock::now();
    pass(vectors);
    return seconds_since(t0);
}

void bench_segment(const Args& a) {
    Codec codec = Codec::init(ModelConfig::preset_config("cpu-f8"), 1);
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    double t_enc = 0, t_km = 0, t_sp = 0;
    for (int i = 0; i < a.segment; ++i) {
        Image img;
        img.width = img.height = 256;
        img.channels = 3;
        img.data.resize(img.pixels() * 3);
        for (int y = 0; y < 256; ++y)  // a disc on a smooth background plus noise
            for (int x = 0; x < 256; ++x) {
                bool in = (x - 128) * (x - 128) + (y - 120) * (y - 120) < 70 * 70;
                for (int c = 0; c < 3; ++c)
                    img.at(y, x, c) = std::clamp((in ? 0.8f - 0.3f * c : 0.2f + 0.002f * x) + 0.1f * (u(rng) - 0.5f), 0.f, 1.f);
            }
        auto t0 = Clock::now();
        std::vector<CodeRecord> recs = codec.encode({img}, {"bench.png"});
        t_enc += seconds_since(t0);
        SegmentOptions so;
        so.method = SegmentMethod::KMeans;
        so.k = 5;
        t0 = Clock::now();
        segment_codes(recs[0], so);
        t_km += seconds_since(t0);
        so.method = SegmentMethod::Spectral;
        so.k = 2;
        t0 = Clock::now();
        Segmentation s = segment_codes(recs[0], so);
        t_sp += seconds_since(t0);
        if (i == 0)
            std::printf("segment: grid %ux%u, K=%u, spectral foreground fraction %.3f\n", recs[0].grid_h,
                        recs[0].grid_w, recs[0].K, s.foreground_fraction);
    }
    double n = a.segment;
    std::printf("segment: per 256x256 image: encode %.3f s, kmeans(k=5) %.3f s, spectral(k=2) %.3f s; "
                "encode+kmeans %.3f s, encode+spectral %.3f s  (%d images)\n",
                t_enc / n, t_km / n, t_sp / n, (t_enc + t_km) / n, (t_enc + t_sp) / n, a.segment);
}

}  // namespace

int main(int argc, char** argv) {
    Args a;
    for (int i = 1; i < argc; ++i) {
        std::string s = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "bench_cluster: %s needs a value\n", s.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (s == "--records") a.records = std::stoi(next());
        else if (s == "--grid") a.grid = std::stoi(next());
        else if (s == "--dim") a.dim = std::stoi(next());
        else if (s == "-k") a.k = std::stoi(next());
        else if (s == "--iters") a.iters = std::stoi(next());
        else if (s == "--threads") a.threads = std::stoi(next());
        else if (s == "--baseline") a.baseline = std::stod(next());
        else if (s == "--segment") a.segment = std::stoi(next());
        else if (s == "--skip-cluster") a.skip_cluster = true;
        else if (s == "--distances") a.distances = next();
        else if (s == "--no-dense") a.dense_too = false;
        else if (s == "--nnz") {
            std::string v = next();
            a.nnz_lo = std::stoi(v.substr(0, v.find('-')));
            a.nnz_hi = std::stoi(v.substr(v.find('-') + 1));
        } else {
            std::fprintf(stderr, "usage: bench_cluster [--records N] [--grid G] [--dim K] [-k N] [--iters I] "
                                 "[--threads T] [--nnz LO-HI] [--baseline F] [--segment N] [--skip-cluster] [--distances auto|dense|sparse] [--no-dense]\n");
            return 2;
        }
    }
    set_threads(a.threads);
    std::printf("threads: %d (available %d)\n", a.threads > 0 ? a.threads : available_cpus(), available_cpus());
    set_faiss_threads(a.threads);
    if (!a.skip_cluster) {
        int br = std::max(1, static_cast<int>(a.records * a.baseline));
        int bk = std::max(1, static_cast<int>(a.k * a.baseline));
        RunResult b = run_cluster(a, br, bk, "baseline", a.distances);
        RunResult f = run_cluster(a, a.records, a.k, "full", a.distances);
        double work = static_cast<double>(f.vectors) * a.k / (static_cast<double>(b.vectors) * bk);
        std::printf("ratio full/baseline: time %.1fx for %.1fx the distance computations (vectors x clusters); "
                    "peak RSS %.2fx for %.1fx the vectors\n",
                    f.seconds / b.seconds, work, f.rss / b.rss,
                    static_cast<double>(f.vectors) / static_cast<double>(b.vectors));
        // k-means does `iters` passes over the training sample (all vectors at these sizes) plus the final
        // assignment of every vector: each pass is at least the distance products.
        double pass = gemm_pass_seconds(f.vectors, a.dim, a.k);
        double floor = pass * (a.iters + 1);
        double gflop = 2.0 * static_cast<double>(f.vectors) * a.dim * a.k * (a.iters + 1) / 1e9;
        std::printf("GEMM bound (same run): one pass %.2f s, %d passes %.2f s (%.0f GFLOP at %.1f GFLOP/s); "
                    "full run / bound = %.2fx\n",
                    pass, a.iters + 1, floor, gflop, gflop / floor, f.seconds / floor);
        if (a.dense_too && a.distances != "dense") {
            RunResult d = run_cluster(a, a.records, a.k, "full-dense", "dense");
            std::printf("--distances %s vs dense (same run): %.2fx faster; dense run / bound = %.2fx\n",
                        a.distances.c_str(), d.seconds / f.seconds, d.seconds / floor);
        }
    }
    if (a.segment > 0) bench_segment(a);
    return 0;
}
