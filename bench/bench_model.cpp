// bench_model - times Codec::encode + Codec::decode of one random image for a preset.
//   bench_model [PRESET [SIZE [REPS [THREADS]]]]     (defaults: cpu-f8 256 5 all CPUs)
// Prints the median and minimum wall time of encode, decode and both, and the process CPU time of both
// (with THREADS=1 a load-independent estimate of the single-core time), in seconds.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <random>
#include <string>

#include "scvae/model.h"

int main(int argc, char** argv) {
    std::string preset = argc > 1 ? argv[1] : "cpu-f8";
    int size = argc > 2 ? std::stoi(argv[2]) : 256;
    int reps = argc > 3 ? std::stoi(argv[3]) : 5;
    int threads = argc > 4 ? std::stoi(argv[4]) : 0;
    scvae::set_threads(threads);
    auto codec = scvae::Codec::init(scvae::ModelConfig::preset_config(preset), 1);
    scvae::Image img;
    img.width = img.height = size;
    img.channels = 3;
    img.data.resize(img.pixels() * 3);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    for (auto& v : img.data) v = u(rng);
    using clock = std::chrono::steady_clock;
    std::vector<double> te, td, tt, tc;
    size_t nnz = 0;
    for (int r = 0; r < reps + 1; ++r) {  // the first run warms up
        std::clock_t c0 = std::clock();
        auto t0 = clock::now();
        auto recs = codec.encode({img}, {"bench"});
        auto t1 = clock::now();
        auto out = codec.decode(recs[0]);
        auto t2 = clock::now();
        std::clock_t c2 = std::clock();
        nnz = recs[0].nnz();
        if (r == 0) continue;
        te.push_back(std::chrono::duration<double>(t1 - t0).count());
        td.push_back(std::chrono::duration<double>(t2 - t1).count());
        tt.push_back(std::chrono::duration<double>(t2 - t0).count());
        tc.push_back(double(c2 - c0) / CLOCKS_PER_SEC);
    }
    auto med = [](std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; };
    auto mn = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
    std::printf("preset=%s size=%dx%d threads=%d reps=%d nnz=%zu\n", preset.c_str(), size, size, threads, reps, nnz);
    std::printf("encode median %.4f s min %.4f s\n", med(te), mn(te));
    std::printf("decode median %.4f s min %.4f s\n", med(td), mn(td));
    std::printf("total  median %.4f s min %.4f s\n", med(tt), mn(tt));
    std::printf("cpu time (all threads) of encode+decode: median %.4f s min %.4f s\n", med(tc), mn(tc));
    return 0;
}
