// bench_codec - encode and decode throughput of 256x256 images, and where the time goes.
//
//   build/bench/bench_codec [--presets cpu-f8,paper-f16] [--images N] [--threads T] [--size S]
//
// For each preset (freshly initialised weights: the cost does not depend on training) it times, in one
// process, over N images:
//   pipeline encode : PNG bytes -> image -> Codec::encode -> serialised record bytes
//   pipeline decode : record bytes -> CodeReader -> Codec::decode -> PNG bytes
//   networks alone  : encoder conv net, LISTA, D z + decoder conv net (the same tensors, no I/O; minimum per
//                     image), by the inference path the tools take and, interleaved with it, by the plain
//                     path of training (NCHW layout, nearest x2 + 3x3 upsampling): the speed-up of the former;
//                     and by the torch-free engine of lib/src/infer/ (what scvae-encode and scvae-decode run)
// and prints images/s plus the share of pipeline time spent outside the networks (image I/O, LISTA,
// CSR conversion, serialisation). Ratios are against the encoder network measured in the same run.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/codes.h"
#include "scvae/image.h"
#include "scvae/io.h"
#include "scvae/model.h"
#include "model/networks.h"

using Clock = std::chrono::steady_clock;
static double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

static scvae::Image synthetic_photo(int size, int seed) {
    // Smooth colour fields plus texture: compresses like a photo, not like noise.
    scvae::Image img;
    img.width = img.height = size;
    img.channels = 3;
    img.data.resize(static_cast<size_t>(size) * size * 3);
    for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x)
            for (int c = 0; c < 3; ++c) {
                double v = 0.5 + 0.25 * std::sin((x + 7 * seed) * 0.03 * (c + 1)) * std::cos((y - 3 * seed) * 0.05) +
                           0.1 * std::sin(x * 0.7 + y * 0.3 + c) + 0.05 * std::sin((x * y + seed) * 0.01);
                img.at(y, x, c) = static_cast<float>(std::min(1.0, std::max(0.0, v)));
            }
    return img;
}

struct Times {
    double enc_pipeline = 0, dec_pipeline = 0, enc_net = 0, lista = 0, dec_net = 0;
    double plain_enc = 0, plain_dec = 0;  // per image: the networks by the plain (training) path
    double engine_enc = 0, engine_dec = 0;  // per image: encoder + LISTA, D z + decoder by the torch-free engine
};

static Times run_preset(const std::string& preset, int n_images, int size) {
    scvae::ModelConfig cfg = scvae::ModelConfig::preset_config(preset);
    scvae::Codec codec = scvae::Codec::init(cfg, 1);
    auto& net = codec.impl().net;
    net->eval();

    std::vector<std::vector<uint8_t>> pngs;
    for (int i = 0; i < n_images; ++i)
        pngs.push_back(scvae::encode_image(synthetic_photo(size, i), scvae::ImageFormat::PNG));

    // Warm-up (allocator, OpenMP pool).
    codec.encode({synthetic_photo(size, 99)}, {"warm"});

    Times t;
    std::vector<std::vector<uint8_t>> records;
    auto a = Clock::now();
    for (int i = 0; i < n_images; ++i) {
        scvae::Image img = scvae::decode_image(pngs[i].data(), pngs[i].size(), "bench.png");
        auto recs = codec.encode({img}, {"bench.png"});
        records.push_back(scvae::serialize_record(recs[0], {}));
    }
    auto b = Clock::now();
    t.enc_pipeline = secs(a, b);

    a = Clock::now();
    for (int i = 0; i < n_images; ++i) {
        FILE* f = fmemopen(records[i].data(), records[i].size(), "rb");
        scvae::CodeReader reader(f, "bench.scv");
        scvae::CodeRecord rec;
        reader.next(rec);
        std::fclose(f);
        scvae::Image out = codec.decode(rec);
        auto png = scvae::encode_image(out, scvae::ImageFormat::PNG);
        if (png.empty()) std::abort();
    }
    b = Clock::now();
    t.dec_pipeline = secs(a, b);

    // The networks alone, on the same input size, by both paths of the networks, interleaved image by image:
    // the inference path (no autograd: channels-last layout, sub-pixel upsampling, in-place activations) and
    // the plain path that training uses (autograd on, with no parameter that requires a gradient, so nothing is
    // recorded). The minimum over the images is kept for each.
    for (auto& p : net->parameters()) p.requires_grad_(false);
    torch::Tensor x = scvae::image_to_tensor(synthetic_photo(size, 0));
    auto pass = [&](bool plain, double& enc, double& lista, double& dec) {
        torch::AutoGradMode mode(plain);
        auto t0 = Clock::now();
        torch::Tensor e = net->encoder->forward(x);
        auto t1 = Clock::now();
        auto B = e.size(0), n = e.size(1), h = e.size(2), w = e.size(3);
        torch::Tensor rows = e.permute({0, 2, 3, 1}).reshape({B * h * w, n}).contiguous();
        torch::Tensor z = net->lista->forward(rows);
        auto t2 = Clock::now();
        torch::Tensor y = net->decode_codes(z.reshape({B, h, w, -1}));
        auto t3 = Clock::now();
        if (y.numel() == 0) std::abort();
        enc = std::min(enc, secs(t0, t1));
        lista = std::min(lista, secs(t1, t2));
        dec = std::min(dec, secs(t2, t3));
    };
    // The torch-free engine (lib/src/infer/, what scvae-encode and scvae-decode run) on the same weights and
    // input: encoder + LISTA, then D z + decoder.
    scvae::infer::Network engine(cfg, scvae::tensor_source(net));
    torch::Tensor xh = x.permute({0, 2, 3, 1}).contiguous();
    const int f = cfg.factor(), gh = size / f, gw = size / f;
    std::vector<float> codes(size_t(gh) * gw * cfg.K), latent(size_t(gh) * gw * cfg.n), image(size_t(size) * size * 3);
    auto engine_pass = [&](double& enc, double& dec) {
        auto t0 = Clock::now();
        engine.encode(xh.data_ptr<float>(), 1, size, size, codes.data());
        auto t1 = Clock::now();
        const auto& rows = engine.atom_rows();
        std::fill(latent.begin(), latent.end(), 0.f);
        for (int p = 0; p < gh * gw; ++p)
            for (int k = 0; k < cfg.K; ++k)
                if (float v = codes[size_t(p) * cfg.K + k]; v != 0.f)
                    for (int i = 0; i < cfg.n; ++i) latent[size_t(p) * cfg.n + i] += v * rows[size_t(k) * cfg.n + i];
        engine.decode_latent(latent.data(), 1, gh, gw, image.data());
        auto t2 = Clock::now();
        enc = std::min(enc, secs(t0, t1));
        dec = std::min(dec, secs(t1, t2));
    };
    double e0 = 1e9, l0 = 1e9, d0 = 1e9;
    pass(false, e0, l0, d0);  // warm every path
    pass(true, e0, l0, d0);
    engine_pass(e0, d0);
    t.enc_net = t.lista = t.dec_net = t.plain_enc = t.plain_dec = t.engine_enc = t.engine_dec = 1e9;
    for (int i = 0; i < n_images; ++i) {
        pass(false, t.enc_net, t.lista, t.dec_net);
        pass(true, t.plain_enc, l0, t.plain_dec);
        engine_pass(t.engine_enc, t.engine_dec);
    }
    t.enc_net *= n_images;  // per-image minimum, scaled to the N images the pipeline times cover
    t.lista *= n_images;
    t.dec_net *= n_images;
    return t;
}

int main(int argc, char** argv) {
    std::vector<std::string> presets{"cpu-f8", "paper-f16"};
    int n_images = 8, threads = 0, size = 256;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "bench_codec: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--presets") {
            presets.clear();
            std::stringstream ss(next());
            std::string p;
            while (std::getline(ss, p, ',')) presets.push_back(p);
        } else if (a == "--images") {
            n_images = std::stoi(next());
        } else if (a == "--threads") {
            threads = std::stoi(next());
        } else if (a == "--size") {
            size = std::stoi(next());
        } else {
            std::fprintf(stderr, "usage: bench_codec [--presets a,b] [--images N] [--threads T] [--size S]\n");
            return 2;
        }
    }
    scvae::set_threads(threads);
    std::printf("bench_codec: %dx%d images, %d per preset, %d threads (torch reports %d)\n", size, size, n_images,
                threads > 0 ? threads : scvae::available_cpus(), static_cast<int>(torch::get_num_threads()));
    std::printf("%-10s %9s %9s %9s %9s %9s %9s %9s %10s %10s\n", "preset", "enc img/s", "dec img/s", "enc net s",
                "lista s", "dec net s", "enc/encnet", "lista/encnet", "enc outside", "dec outside");
    for (const auto& p : presets) {
        int n = (p.rfind("paper", 0) == 0) ? std::max(1, n_images / 4) : n_images;
        Times t = run_preset(p, n, size);
        double per_enc_net = t.enc_net / n;
        double outside_enc = 1.0 - t.enc_net / t.enc_pipeline;  // everything but the conv encoder: I/O, LISTA, CSR
        double outside_dec = 1.0 - t.dec_net / t.dec_pipeline;  // everything but D z + decoder: parse, PNG
        std::printf("%-10s %9.2f %9.2f %9.4f %9.4f %9.4f %9.2f %9.3f %9.1f%% %9.1f%%\n", p.c_str(), n / t.enc_pipeline,
                    n / t.dec_pipeline, per_enc_net, t.lista / n, t.dec_net / n, (t.enc_pipeline / n) / per_enc_net,
                    t.lista / t.enc_net, 100 * outside_enc, 100 * outside_dec);
        std::printf("%-10s networks per image: encoder %.4f s (plain path %.4f s, %.2fx), D z + decoder %.4f s "
                    "(plain path %.4f s, %.2fx)\n",
                    p.c_str(), per_enc_net, t.plain_enc, t.plain_enc / per_enc_net, t.dec_net / n, t.plain_dec,
                    t.plain_dec / (t.dec_net / n));
        std::printf("%-10s torch-free engine per image: encoder + LISTA %.4f s (LibTorch %.4f s, %.2fx), D z + decoder "
                    "%.4f s (LibTorch %.4f s, %.2fx)\n",
                    p.c_str(), t.engine_enc, per_enc_net + t.lista / n, (per_enc_net + t.lista / n) / t.engine_enc,
                    t.engine_dec, t.dec_net / n, (t.dec_net / n) / t.engine_dec);
        std::fflush(stdout);
    }
    return 0;
}
