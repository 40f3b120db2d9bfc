// bench_train - training throughput of scvae-train's step (forward, Eq. (5) loss, backward, Adam) and the
// share of step time spent waiting for data.
//   bench_train [PRESETS [SIZE [STEPS [THREADS [BATCH]]]]]   (defaults: cpu-f8,paper-f16 64 3 2 16)
// For each preset: STEPS timed steps (after one warm-up step) fed by the threaded BatchStream (prefetching
// on one worker thread), then STEPS steps with the batches built inline on the training thread - the
// baseline in the same process. Prints images/s (wall and per CPU-second), the data-wait share of the
// prefetched run, and the ratio prefetched/inline. Input: 24 synthetic 192x160 PNG photos-like images
// (smooth gradients + noise) written to a temporary folder and loaded through ImageSet like real data.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <random>
#include <sstream>
#include <unistd.h>

#include "scvae/dataset.h"
#include "scvae/image.h"
#include "scvae/model.h"
#include "model/networks.h"

namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

static double secs(clk::time_point a, clk::time_point b) { return std::chrono::duration<double>(b - a).count(); }

int main(int argc, char** argv) {
    std::string presets = argc > 1 ? argv[1] : "cpu-f8,paper-f16";
    int size = argc > 2 ? std::stoi(argv[2]) : 64;
    int steps = argc > 3 ? std::stoi(argv[3]) : 3;
    int threads = argc > 4 ? std::stoi(argv[4]) : 2;
    int batch = argc > 5 ? std::stoi(argv[5]) : 16;
    scvae::set_threads(threads);

    std::string dir = (fs::temp_directory_path() / ("bench-train-" + std::to_string(getpid()))).string();
    fs::create_directories(dir);
    std::mt19937 rng(1);
    std::normal_distribution<float> noise(0.f, 0.04f);
    std::vector<std::string> files;
    for (int i = 0; i < 24; ++i) {
        scvae::Image img;
        img.width = 192;
        img.height = 160;
        img.channels = 3;
        img.data.resize(img.pixels() * 3);
        for (int y = 0; y < img.height; ++y)
            for (int x = 0; x < img.width; ++x)
                for (int c = 0; c < 3; ++c)
                    img.at(y, x, c) = std::clamp(0.5f + 0.4f * std::sin(0.03f * (x + 7 * i) * (c + 1) + 0.05f * y) +
                                                     noise(rng), 0.f, 1.f);
        files.push_back(dir + "/img" + std::to_string(i) + ".png");
        scvae::write_image(files.back(), img);
    }
    scvae::ImageSetOptions io;
    io.crop = size;
    io.threads = threads;
    scvae::ImageSet set = scvae::ImageSet::load(files, io, "bench");

    std::printf("bench_train: batch %d, crops %dx%d, %d threads, %d timed steps per mode\n", batch, size, size,
                threads, steps);
    std::printf("%-10s %12s %14s %10s %12s %14s\n", "preset", "img/s", "img/CPU-s", "data wait", "inline img/s",
                "prefetch/inline");
    std::stringstream ss(presets);
    for (std::string preset; std::getline(ss, preset, ',');) {
        scvae::Codec codec = scvae::Codec::init(scvae::ModelConfig::preset_config(preset), 1);
        scvae::SCVAE net = codec.impl().net;
        net->train();
        torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(1e-4));
        auto step = [&](scvae::Batch& b) {
            auto x = torch::from_blob(b.data.data(), {batch, 3, size, size}, torch::kFloat32);
            auto l = scvae::scvae_loss(net->forward(x), x, 1.0);
            opt.zero_grad();
            l.total.backward();
            opt.step();
        };
        // prefetched (what scvae-train does)
        double wait = 0, ips = 0, ips_cpu = 0, ips_inline = 0;
        {
            scvae::BatchStream stream(set, batch, 1, 0, 3, 0, 1);
            scvae::Batch warm = stream.next();
            step(warm);
            std::clock_t c0 = std::clock();
            auto t0 = clk::now();
            for (int s = 0; s < steps; ++s) {
                double w = 0;
                scvae::Batch b = stream.next(&w);
                wait += w;
                step(b);
            }
            double t = secs(t0, clk::now()), c = double(std::clock() - c0) / CLOCKS_PER_SEC;
            ips = steps * batch / t;
            ips_cpu = steps * batch / c;
            wait /= t;
        }
        // baseline: batches built inline on the training thread
        {
            auto t0 = clk::now();
            for (int s = 0; s < steps; ++s) {
                scvae::Batch b = scvae::BatchStream::make(set, batch, 1, 0, 3, uint64_t(s + 1));
                step(b);
            }
            ips_inline = steps * batch / secs(t0, clk::now());
        }
        std::printf("%-10s %12.2f %14.2f %9.1f%% %12.2f %14.2f\n", preset.c_str(), ips, ips_cpu, 100 * wait,
                    ips_inline, ips / ips_inline);
        std::fflush(stdout);
    }
    fs::remove_all(dir);
    return 0;
}
