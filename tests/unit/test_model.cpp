// Unit tests of the model: the DCT dictionary, the sparse solvers and LISTA, the encoder/decoder shapes of
// every preset, padding, the model file (round trips, f16, refusals) and the config.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <random>

#include <unistd.h>
#include <zlib.h>

#include "scvae/error.h"
#include "scvae/io.h"
#include "scvae/model.h"
#include "model/networks.h"

using namespace scvae;

namespace {

std::string tmp_path(const std::string& name) {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir && *dir ? dir : "/tmp") + "/scvae_test_model_" + std::to_string(::getpid()) + "_" + name;
}

std::vector<uint8_t> slurp(const std::string& p) { return read_file(p); }

void spit(const std::string& p, const std::vector<uint8_t>& b) { write_file_atomic(p, b.data(), b.size()); }

Image random_image(int w, int h, int channels, unsigned seed) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = channels;
    img.data.resize(img.pixels() * channels);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    // Smooth-ish content: a gradient plus noise.
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < channels; ++c)
                img.at(y, x, c) = 0.5f * (float(x) / w + float(y + c) / (h + 2)) * 0.8f + 0.2f * u(rng);
    return img;
}

// Message of the Error that fn throws ("" if none).
template <class Fn>
std::string error_of(Fn&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

Codec& tiny_codec() {
    static Codec c = Codec::init(ModelConfig::preset_config("tiny"), 7);
    return c;
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// Dictionary

TEST(Dictionary, ShapeAndUnitColumns) {
    for (auto [n, K] : std::vector<std::pair<int, int>>{{256, 512}, {16, 32}, {64, 100}}) {
        auto D = dct_dictionary(n, K);
        ASSERT_EQ(D.dim(), 2);
        EXPECT_EQ(D.size(0), n);
        EXPECT_EQ(D.size(1), K);
        EXPECT_EQ(D.scalar_type(), torch::kFloat32);
        auto norms = D.norm(2, {0});
        EXPECT_LT((norms - 1).abs().max().item<float>(), 1e-5) << n << "x" << K;
    }
}

TEST(Dictionary, FirstColumnConstantAndKnownEntries) {
    const int n = 256, K = 512, m = 16, p = 23;  // p = ceil(sqrt(512))
    auto D = dct_dictionary(n, K).to(torch::kFloat64);
    auto a = D.accessor<double, 2>();
    for (int r = 0; r < n; ++r) EXPECT_NEAR(a[r][0], 1.0 / 16.0, 1e-6);
    // The 1-D atom k: cos(pi k t / p), mean removed, unit norm.
    auto atom = [&](int k, int t) {
        std::vector<double> v(m);
        double mean = 0, norm = 0;
        for (int i = 0; i < m; ++i) mean += (v[i] = std::cos(M_PI * k * i / p));
        mean /= m;
        for (int i = 0; i < m; ++i) norm += (v[i] - (k > 0 ? mean : 0)) * (v[i] - (k > 0 ? mean : 0));
        return (v[t] - (k > 0 ? mean : 0)) / std::sqrt(norm);
    };
    // Column a*p + b, reshaped row-major into m x m (row i, column j), is atom_a(j) * atom_b(i).
    for (int col : {1, 5, 23, 24, 100, 511}) {
        int aa = col / p, bb = col % p;
        for (int i = 0; i < m; i += 5)
            for (int j = 0; j < m; j += 3)
                EXPECT_NEAR(a[i * m + j][col], atom(aa, j) * atom(bb, i), 1e-6) << "col " << col;
    }
    // Column 1 varies down the rows only, column p across the columns only.
    for (int i = 0; i < m; ++i)
        for (int j = 1; j < m; ++j) {
            EXPECT_NEAR(a[i * m + j][1], a[i * m][1], 1e-7);
            EXPECT_NEAR(a[j * m + i][p], a[i][p], 1e-7);
        }
    EXPECT_GT(std::abs(a[0][1] - a[m * (m - 1)][1]), 0.1);
}

TEST(Dictionary, RejectsNonSquareN) {
    EXPECT_THROW(dct_dictionary(15, 32), Error);
}

TEST(Dictionary, LipschitzConstantIsLargestEigenvalue) {
    auto D = dct_dictionary(64, 128);
    double L = lipschitz_constant(D);
    auto ev = torch::linalg_eigvalsh(D.t().matmul(D).to(torch::kFloat64), "L");
    EXPECT_NEAR(L, ev.max().item<double>(), 1e-6 * L);
    EXPECT_GE(L, 1.0 - 1e-6);  // at least the squared norm of a unit column
}

// ---------------------------------------------------------------------------------------------------------
// Solvers

TEST(Solvers, SoftThreshold) {
    auto v = torch::tensor({-3.0f, -0.5f, 0.0f, 0.2f, 2.0f});
    auto th = torch::full({5}, 1.0f);
    auto r = soft_threshold(v, th);
    std::vector<float> want{-2.0f, 0.0f, 0.0f, 0.0f, 1.0f};
    for (int i = 0; i < 5; ++i) EXPECT_FLOAT_EQ(r[i].item<float>(), want[i]);
    // Per-atom thresholds broadcast over the rows.
    auto v2 = torch::tensor({{1.0f, 1.0f}, {-2.0f, 3.0f}});
    auto r2 = soft_threshold(v2, torch::tensor({0.5f, 2.0f}));
    EXPECT_FLOAT_EQ(r2[0][0].item<float>(), 0.5f);
    EXPECT_FLOAT_EQ(r2[0][1].item<float>(), 0.0f);
    EXPECT_FLOAT_EQ(r2[1][0].item<float>(), -1.5f);
    EXPECT_FLOAT_EQ(r2[1][1].item<float>(), 1.0f);
}

TEST(Solvers, LISTAAtInitReachesTheMinimumOfEq1) {
    torch::manual_seed(11);
    for (auto [n, K, alpha] : std::vector<std::tuple<int, int, double>>{{16, 32, 0.1}, {64, 128, 0.2}}) {
        auto D = dct_dictionary(n, K);
        auto x = torch::randn({6, n});
        // Reference: FISTA to convergence, in float64.
        auto zf = fista(x.to(torch::kFloat64), D.to(torch::kFloat64), alpha, 20000);
        auto f_ref = sparse_objective(x.to(torch::kFloat64), D.to(torch::kFloat64), zf, alpha);
        LISTA lista(n, K, 4000, alpha);
        torch::NoGradGuard ng;
        auto z = lista->forward(x);
        auto f = sparse_objective(x.to(torch::kFloat64), D.to(torch::kFloat64), z.to(torch::kFloat64), alpha);
        auto rel = ((f - f_ref) / f_ref).abs().max().item<double>();
        EXPECT_LT(rel, 1e-4) << "n=" << n << " K=" << K;
        EXPECT_GT(z.ne(0).sum().item<int64_t>(), 0);
        EXPECT_GT(z.eq(0).sum().item<int64_t>(), 0) << "the code should be sparse";
    }
}

TEST(Solvers, LISTAAtInitIsISTA) {
    torch::manual_seed(3);
    auto x = torch::randn({5, 16});
    LISTA lista(16, 32, 7, 0.3);
    torch::NoGradGuard ng;
    auto z1 = lista->forward(x);
    auto z2 = ista(x, lista->D, 0.3, 7);
    EXPECT_LT((z1 - z2).abs().max().item<float>(), 1e-5);
    // One step is the shrunk filter response.
    LISTA one(16, 32, 1, 0.3);
    auto z3 = one->forward(x);
    auto z4 = soft_threshold(x.matmul(one->W_e.t()), one->theta);
    EXPECT_TRUE(torch::allclose(z3, z4));
    EXPECT_NEAR(one->theta[0].item<float>(), 0.3 / one->L, 1e-7);
}

TEST(Solvers, SparseInferencePathAgreesWithDense) {
    // Large alpha: very sparse codes, so inference takes the sparse S z product; with autograd on it does not.
    torch::manual_seed(6);
    LISTA l(64, 128, 12, 1.0);
    // Signals made of two atoms each, plus a little noise.
    auto zt = torch::zeros({50, 128});
    for (int i = 0; i < 50; ++i) {
        zt[i][(i * 7) % 128] = 3.0f;
        zt[i][(i * 13 + 5) % 128] = -2.5f;
    }
    auto x = zt.matmul(l->D.t()) + 0.05 * torch::randn({50, 64});
    auto dense = l->forward(x).detach();
    torch::Tensor sparse;
    {
        c10::InferenceMode im;
        sparse = l->forward(x);
    }
    EXPECT_LT(sparse.ne(0).sum().item<int64_t>() * 16, sparse.numel()) << "the test needs sparse codes";
    EXPECT_GT(sparse.ne(0).sum().item<int64_t>(), 0);
    EXPECT_LT((sparse - dense).abs().max().item<float>(), 1e-5);
}

TEST(Solvers, SolverSelectableInLISTA) {
    torch::manual_seed(4);
    auto x = torch::randn({3, 16});
    LISTA f(16, 32, 20, 0.1, "fista");
    torch::NoGradGuard ng;
    EXPECT_TRUE(torch::allclose(f->forward(x), fista(x, f->D, 0.1, 20)));
}

TEST(Solvers, FISTABeatsISTAAfter100Iterations) {
    torch::manual_seed(5);
    auto D = dct_dictionary(256, 512);
    auto x = torch::randn({8, 256});
    const double alpha = 0.1;
    auto fi = sparse_objective(x, D, ista(x, D, alpha, 100), alpha);
    auto ff = sparse_objective(x, D, fista(x, D, alpha, 100), alpha);
    EXPECT_LT(ff.sum().item<double>(), fi.sum().item<double>());
    EXPECT_TRUE((ff <= fi + 1e-4).all().item<bool>());
}

// ---------------------------------------------------------------------------------------------------------
// Networks

TEST(Network, TinyAndCpuShapes) {
    torch::NoGradGuard ng;
    for (std::string name : {"tiny", "cpu-f8"}) {
        auto cfg = ModelConfig::preset_config(name);
        torch::manual_seed(1);
        SCVAE net(cfg);
        auto x = torch::rand({2, 3, 64, 48}) * 2 - 1;
        auto out = net->forward(x);
        int f = cfg.factor();
        EXPECT_EQ(out.latent.sizes().vec(), (std::vector<int64_t>{2, cfg.n, 64 / f, 48 / f})) << name;
        EXPECT_EQ(out.latent_hat.sizes().vec(), out.latent.sizes().vec());
        EXPECT_EQ(out.code.sizes().vec(), (std::vector<int64_t>{2, 64 / f, 48 / f, cfg.K}));
        EXPECT_EQ(out.x_hat.sizes().vec(), x.sizes().vec());
        // encode_codes/decode_codes agree with forward.
        auto z = net->encode_codes(x);
        EXPECT_TRUE(torch::allclose(z, out.code, 1e-5, 1e-5));
        EXPECT_TRUE(torch::allclose(net->decode_codes(z), out.x_hat, 1e-4, 1e-4));
        // The loss of Eq. (5).
        auto l = scvae_loss(out, x, cfg.alpha);
        double hw = double(64 / f) * (48 / f);
        EXPECT_NEAR(l.total.item<double>(), l.rec.item<double>() + l.latent.item<double>() / hw,
                    1e-4 * l.total.item<double>());
        double rec = ((out.x_hat - x) * 0.5).pow(2).sum().item<double>() / 2;
        EXPECT_NEAR(l.rec.item<double>(), rec, 1e-4 * rec);
    }
}

// Without autograd the networks take a faster path (channels-last layout, the upsampling convolution in
// sub-pixel form, in-place activations); it must compute the same function as the path training uses, and it
// must follow the weights when they change (the sub-pixel weights are derived from the 3x3 ones).
TEST(Network, InferencePathMatchesTrainingPath) {
    for (std::string name : {"tiny", "cpu-f8"}) {
        auto cfg = ModelConfig::preset_config(name);
        torch::manual_seed(3);
        SCVAE net(cfg);
        for (auto& p : net->parameters()) p.requires_grad_(false);
        const int f = cfg.factor();
        auto x = torch::rand({2, 3, 3 * f, 5 * f}) * 2 - 1;  // odd grid sizes: every border case of the phases
        auto compare = [&](const char* when) {
            torch::Tensor plain_latent, plain_image, fast_latent, fast_image;
            {
                torch::AutoGradMode on(true);  // the training path (nothing requires a gradient: no graph)
                plain_latent = net->encoder->forward(x);
                plain_image = net->decoder->forward(plain_latent);
            }
            {
                c10::InferenceMode guard;
                fast_latent = net->encoder->forward(x);
                fast_image = net->decoder->forward(plain_latent);
            }
            EXPECT_TRUE(fast_latent.is_contiguous(torch::MemoryFormat::ChannelsLast)) << name;
            EXPECT_EQ(fast_image.sizes(), plain_image.sizes()) << name;
            const double scale = plain_image.abs().max().item<double>();
            EXPECT_GT(scale, 0.01) << name;
            EXPECT_LT((fast_latent - plain_latent).abs().max().item<double>(),
                      1e-4 * plain_latent.abs().max().item<double>()) << name << " " << when;
            EXPECT_LT((fast_image - plain_image).abs().max().item<double>(), 1e-4 * scale) << name << " " << when;
        };
        compare("at init");
        {  // a weight change (as an optimiser step makes) must reach the sub-pixel weights
            torch::NoGradGuard ng;
            for (auto& item : net->decoder->named_parameters())
                if (item.key().find("conv.weight") != std::string::npos) item.value().mul_(-1.5);
        }
        compare("after a weight change");
        {  // weights replaced by new storage (as loading into a network may do) must reach them too
            torch::NoGradGuard ng;
            for (auto& item : net->decoder->named_parameters())
                if (item.key().find("conv.weight") != std::string::npos) item.value().set_data(item.value() * 0.5);
        }
        compare("after the weights are replaced");
    }
}

TEST(Network, PaperPresetsBuildWithVQGANSizes) {
    torch::NoGradGuard ng;
    std::map<std::string, int> d = {{"paper-f8", 3}, {"paper-f16", 4}, {"paper-f64", 6}, {"paper-f256", 8}};
    for (const auto& [name, depth] : d) {
        auto cfg = ModelConfig::preset_config(name);
        EXPECT_EQ(cfg.d(), depth) << name;
        EXPECT_EQ(cfg.channels, 128);
        EXPECT_EQ(cfg.channels * cfg.ch_mult.back(), 512);  // C''
        EXPECT_EQ(cfg.n, 256);
        EXPECT_EQ(cfg.K, 512);
        EXPECT_EQ(cfg.steps, 16);
        SCVAE net(cfg);
        int64_t params = 0;
        for (const auto& p : net->parameters()) params += p.numel();
        EXPECT_GT(params, 30'000'000) << name;
        EXPECT_LT(params, 200'000'000) << name;
        if (depth <= 4) {
            auto x = torch::zeros({1, 3, 32, 32});
            auto out = net->forward(x);
            EXPECT_EQ(out.code.sizes().vec(), (std::vector<int64_t>{1, 32 >> depth, 32 >> depth, 512})) << name;
            EXPECT_EQ(out.x_hat.sizes().vec(), x.sizes().vec());
        }
    }
}

TEST(Network, GroupNormClampsToTheChannelCount) {
    auto cfg = ModelConfig::preset_config("tiny");
    cfg.groups = 32;    // more groups than channels
    cfg.channels = 6;   // 6, 12: not multiples of 32 (nor of 4)
    torch::NoGradGuard ng;
    SCVAE net(cfg);
    auto out = net->forward(torch::zeros({1, 3, 16, 16}));
    EXPECT_EQ(out.x_hat.size(3), 16);
}

// ---------------------------------------------------------------------------------------------------------
// Codec

TEST(Codec, PaddingRoundTripForOddSizes) {
    Codec& c = tiny_codec();
    for (auto [w, h] : std::vector<std::pair<int, int>>{{37, 29}, {64, 64}, {1, 1}, {3, 2}, {5, 9}}) {
        auto img = random_image(w, h, 3, 1);
        auto recs = c.encode({img}, {"img"});
        ASSERT_EQ(recs.size(), 1u);
        const auto& r = recs[0];
        EXPECT_EQ(r.image_width, uint32_t(w));
        EXPECT_EQ(r.image_height, uint32_t(h));
        EXPECT_EQ(r.pad_right, uint32_t((4 - w % 4) % 4));
        EXPECT_EQ(r.pad_bottom, uint32_t((4 - h % 4) % 4));
        EXPECT_EQ(r.grid_w, uint32_t((w + 3) / 4));
        EXPECT_EQ(r.grid_h, uint32_t((h + 3) / 4));
        EXPECT_EQ(r.n, 16u);
        EXPECT_EQ(r.K, 32u);
        EXPECT_EQ(r.d, 2u);
        EXPECT_EQ(r.fingerprint, c.fingerprint());
        EXPECT_EQ(r.source, "img");
        EXPECT_EQ(r.row_ptr.size(), r.positions() + 1);
        EXPECT_NO_THROW(r.validate());
        Image out = c.decode(r);
        EXPECT_EQ(out.width, w);
        EXPECT_EQ(out.height, h);
        EXPECT_EQ(out.channels, 3);
        for (float v : out.data) ASSERT_TRUE(v >= 0.f && v <= 1.f);
    }
}

TEST(Codec, PaddingIsReflection) {
    Codec& c = tiny_codec();
    auto img = random_image(37, 29, 3, 2);
    // The same image reflect-padded by hand to 40x32.
    Image padded;
    padded.width = 40;
    padded.height = 32;
    padded.channels = 3;
    padded.data.resize(padded.pixels() * 3);
    auto refl = [](int i, int n) { return i < n ? i : 2 * (n - 1) - i; };
    for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 40; ++x)
            for (int ch = 0; ch < 3; ++ch) padded.at(y, x, ch) = img.at(refl(y, 29), refl(x, 37), ch);
    auto a = c.encode({img}, {"a"})[0].dense_matrix();
    auto b = c.encode({padded}, {"b"})[0].dense_matrix();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5) << i;
}

TEST(Codec, BatchedEncodeMatchesSingleAndKeepsOrder) {
    Codec& c = tiny_codec();
    std::vector<Image> imgs = {random_image(32, 32, 3, 1), random_image(20, 12, 3, 2), random_image(32, 32, 3, 3),
                               random_image(30, 31, 3, 4)};
    auto recs = c.encode(imgs, {"a", "b", "c", "d"});
    ASSERT_EQ(recs.size(), 4u);
    EXPECT_EQ(recs[1].source, "b");
    EXPECT_EQ(recs[1].image_width, 20u);
    EXPECT_EQ(recs[3].source, "d");
    for (size_t i = 0; i < imgs.size(); ++i) {
        auto one = c.encode({imgs[i]}, {"x"})[0].dense_matrix();
        auto all = recs[i].dense_matrix();
        ASSERT_EQ(one.size(), all.size());
        for (size_t k = 0; k < one.size(); ++k) ASSERT_NEAR(one[k], all[k], 1e-5);
    }
    // Batched decode gives the same images as one-by-one decode.
    auto outs = c.decode(recs);
    ASSERT_EQ(outs.size(), 4u);
    for (size_t i = 0; i < recs.size(); ++i) {
        Image one = c.decode(recs[i]);
        ASSERT_EQ(outs[i].width, one.width);
        ASSERT_EQ(outs[i].height, one.height);
        for (size_t k = 0; k < one.data.size(); ++k) ASSERT_NEAR(outs[i].data[k], one.data[k], 1e-5);
    }
}

TEST(Codec, CodesAreTheNetworkOutputInCSR) {
    Codec& c = tiny_codec();
    auto img = random_image(24, 16, 3, 9);
    auto rec = c.encode({img}, {"x"})[0];
    torch::NoGradGuard ng;
    auto z = c.impl().net->encode_codes(image_to_tensor(img)).contiguous();
    EXPECT_EQ(int64_t(rec.nnz()), z.ne(0).sum().item<int64_t>());
    auto dense = rec.dense_matrix();
    auto zf = z.reshape({-1});
    for (int64_t i = 0; i < zf.numel(); ++i) ASSERT_FLOAT_EQ(dense[i], zf[i].item<float>());
}

TEST(Codec, GrayAndAlphaImages) {
    Codec& c = tiny_codec();
    auto gray = random_image(10, 10, 1, 1);
    auto ga = random_image(10, 10, 2, 1);
    auto rgba = random_image(10, 10, 4, 1);
    auto recs = c.encode({gray, ga, rgba}, {"g", "ga", "rgba"});
    EXPECT_EQ(recs[0].image_channels, 1u);
    EXPECT_EQ(recs[1].image_channels, 1u);
    EXPECT_EQ(recs[2].image_channels, 3u);
    Image out = c.decode(recs[0]);
    EXPECT_EQ(out.channels, 3);
    EXPECT_EQ(out.width, 10);
}

TEST(Codec, DecodeRefusesRecordsOfAnotherArchitecture) {
    Codec& c = tiny_codec();
    auto rec = c.encode({random_image(8, 8, 3, 1)}, {"x"})[0];
    auto bad = rec;
    bad.K = 64;
    EXPECT_EQ(error_of([&] { c.decode(bad); }),
              "record was made by a model with n=16, K=64, d=2; this model has n=16, K=32, d=2");
    bad = rec;
    bad.d = 3;
    EXPECT_NE(error_of([&] { c.decode(bad); }).find("d=3; this model has"), std::string::npos);
    bad = rec;
    bad.image_width = 100;  // grid no longer fits the size
    EXPECT_NE(error_of([&] { c.decode(bad); }).find("does not fit image size"), std::string::npos);
}

TEST(Codec, InitIsSeeded) {
    auto cfg = ModelConfig::preset_config("tiny");
    auto a = Codec::init(cfg, 5), b = Codec::init(cfg, 5), d = Codec::init(cfg, 6);
    EXPECT_EQ(a.fingerprint(), b.fingerprint());
    EXPECT_NE(a.fingerprint(), d.fingerprint());
    EXPECT_EQ(a.fingerprint().size(), 16u);
    EXPECT_EQ(a.config().preset, "tiny");
}

TEST(Codec, FingerprintChangesWithAWeight) {
    auto c = Codec::init(ModelConfig::preset_config("tiny"), 1);
    auto& impl = c.impl();
    std::string f0 = compute_fingerprint(impl.cfg, impl.net);
    EXPECT_EQ(f0, c.fingerprint());
    torch::NoGradGuard ng;
    auto w = impl.net->decoder->body->parameters()[0];
    float old = w.view({-1})[3].item<float>();
    w.view({-1})[3] = old + 1e-3f;
    std::string f1 = compute_fingerprint(impl.cfg, impl.net);
    EXPECT_NE(f0, f1);
    w.view({-1})[3] = old;
    EXPECT_EQ(compute_fingerprint(impl.cfg, impl.net), f0);
    // ... and with the config.
    auto cfg2 = impl.cfg;
    cfg2.alpha = 0.5f;
    EXPECT_NE(compute_fingerprint(cfg2, impl.net), f0);
}

// Issue 15: codes are checked where the encoder makes them. A model file whose weights are finite but absurd
// gives codes beyond the code value bound; segment --model clustered them straight away (FAISS abort).
TEST(Codec, CodesOutOfRangeFromAbsurdWeightsAreAnError) {
    auto c = Codec::init(ModelConfig::preset_config("tiny"), 1);
    Image img;
    img.width = img.height = 16;
    img.channels = 3;
    for (int i = 0; i < 16 * 16 * 3; ++i) img.data.push_back(static_cast<float>((i * 37) % 101) / 100.0f);
    EXPECT_EQ(c.encode({img}, {"x.png"}).size(), 1u);
    {
        torch::NoGradGuard ng;
        auto params = c.impl().net->encoder->parameters();
        params[params.size() - 2].mul_(1e30);  // the last convolution: weight and bias
        params[params.size() - 1].add_(1e30);
    }
    try {
        c.encode({img}, {"x.png"});
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("x.png: the model gives a code value out of range (", 0), 0u) << e.what();
        EXPECT_NE(std::string(e.what()).find(", |value| at most 1e15)"), std::string::npos) << e.what();
    }
}

TEST(Codec, UnknownDeviceAndCuda) {
    EXPECT_EQ(parse_device("cpu"), Device::CPU);
    EXPECT_EQ(parse_device("cuda"), Device::CUDA);
    EXPECT_THROW(parse_device("gpu"), InvalidArgument);
    if (!torch::cuda::is_available())
        EXPECT_EQ(error_of([] { Codec::init(ModelConfig::preset_config("tiny"), 1, Device::CUDA); }),
                  "CUDA requested but this LibTorch has no CUDA device");
}

// ---------------------------------------------------------------------------------------------------------
// Model file

TEST(ModelFile, SaveLoadRoundTrip) {
    Codec& c = tiny_codec();
    std::string path = tmp_path("rt.scvm");
    nlohmann::json meta = {{"steps", 12}, {"note", "unit test"}};
    c.save(path, meta);
    Codec l = Codec::load(path);
    EXPECT_EQ(l.fingerprint(), c.fingerprint());
    EXPECT_EQ(l.meta(), meta);
    EXPECT_EQ(l.config().to_json(), c.config().to_json());
    auto img = random_image(21, 13, 3, 5);
    auto r1 = c.encode({img}, {"x"})[0];
    auto r2 = l.encode({img}, {"x"})[0];
    EXPECT_EQ(r1.indices, r2.indices);
    EXPECT_EQ(r1.values, r2.values);
    EXPECT_EQ(c.decode(r1).data, l.decode(r2).data);
    ModelInfo info = read_model_info(path);
    EXPECT_EQ(info.fingerprint, c.fingerprint());
    EXPECT_EQ(info.meta, meta);
    int64_t params = 0;
    for (const auto& p : c.impl().net->parameters()) params += p.numel();
    EXPECT_EQ(info.parameters, uint64_t(params));
    // Saving again gives the same bytes.
    std::string path2 = tmp_path("rt2.scvm");
    l.save(path2, meta);
    EXPECT_EQ(slurp(path), slurp(path2));
    std::remove(path.c_str());
    std::remove(path2.c_str());
}

TEST(ModelFile, HalfPrecision) {
    Codec& c = tiny_codec();
    std::string full = tmp_path("full.scvm"), half = tmp_path("half.scvm"), again = tmp_path("again.scvm");
    c.save(full, {});
    c.save(half, {}, true);
    EXPECT_LT(slurp(half).size() * 10, slurp(full).size() * 6);
    Codec h = Codec::load(half);
    EXPECT_NE(h.fingerprint(), c.fingerprint());
    EXPECT_EQ(read_model_info(half).fingerprint, h.fingerprint());
    // f16 -> load -> save f16 is stable, and so is the fingerprint.
    h.save(again, {}, true);
    EXPECT_EQ(slurp(again), slurp(half));
    EXPECT_EQ(Codec::load(again).fingerprint(), h.fingerprint());
    // The weights are the rounded ones: outputs stay close.
    torch::NoGradGuard ng;
    auto x = image_to_tensor(random_image(16, 16, 3, 1));
    auto zc = c.impl().net->encode_codes(x), zh = h.impl().net->encode_codes(x);
    EXPECT_LT((zc - zh).abs().max().item<float>(), 0.05f);
    // The dictionary stays exact.
    EXPECT_TRUE(torch::equal(h.impl().net->lista->D, c.impl().net->lista->D));
    for (auto& p : {full, half, again}) std::remove(p.c_str());
}

namespace {

// The file with its JSON header replaced (and the CRC recomputed).
std::vector<uint8_t> with_header(const std::vector<uint8_t>& file, const std::function<void(nlohmann::json&)>& edit) {
    uint32_t jlen;
    std::memcpy(&jlen, &file[12], 4);
    auto j = nlohmann::json::parse(file.begin() + 16, file.begin() + 16 + jlen);
    edit(j);
    std::string js = j.dump();
    std::vector<uint8_t> out(file.begin(), file.begin() + 12);
    uint32_t nl = js.size();
    out.insert(out.end(), reinterpret_cast<uint8_t*>(&nl), reinterpret_cast<uint8_t*>(&nl) + 4);
    out.insert(out.end(), js.begin(), js.end());
    out.insert(out.end(), file.begin() + 16 + jlen, file.end() - 4);
    uint32_t crc = crc32(0L, out.data(), out.size());
    out.insert(out.end(), reinterpret_cast<uint8_t*>(&crc), reinterpret_cast<uint8_t*>(&crc) + 4);
    return out;
}

}  // namespace

TEST(ModelFile, RefusesBadFiles) {
    Codec& c = tiny_codec();
    std::string good = tmp_path("good.scvm"), bad = tmp_path("bad.scvm");
    c.save(good, {});
    auto bytes = slurp(good);
    auto load_error = [&](const std::vector<uint8_t>& b) {
        spit(bad, b);
        std::string e1 = error_of([&] { Codec::load(bad); });
        std::string e2 = error_of([&] { read_model_info(bad); });
        EXPECT_EQ(e1.substr(0, 40), e2.substr(0, 40));
        return e1;
    };
    // Sanity: the good file loads.
    EXPECT_EQ(error_of([&] { Codec::load(good); }), "");
    // Foreign files.
    std::string foreign = "P6\n1 1\n255\nabc and then some more bytes to pass sixteen";
    EXPECT_EQ(load_error(std::vector<uint8_t>(foreign.begin(), foreign.end())), bad + ": not a scvae model file");
    EXPECT_EQ(load_error({}), bad + ": not a scvae model file");
    // Truncated anywhere.
    // (the expected size is the next part's end: magic, version + header length, header + CRC, the whole file)
    uint32_t jlen = 0;
    std::memcpy(&jlen, bytes.data() + 12, 4);
    const size_t header_end = 16 + jlen + 4;
    for (auto [cut, expect] : std::vector<std::pair<size_t, size_t>>{{5, 8},
                                                                    {12, 16},
                                                                    {100, header_end},
                                                                    {bytes.size() / 2, bytes.size()},
                                                                    {bytes.size() - 1, bytes.size()}})
        EXPECT_EQ(load_error(std::vector<uint8_t>(bytes.begin(), bytes.begin() + cut)),
                  bad + ": truncated model file (expected " + std::to_string(expect) + " bytes, got " +
                      std::to_string(cut) + ")")
            << cut;
    // A flipped bit in the data or in the header.
    auto flipped = bytes;
    flipped[bytes.size() - 50] ^= 0x10;
    EXPECT_EQ(load_error(flipped), bad + ": model file checksum mismatch");
    flipped = bytes;
    flipped[40] ^= 0x01;
    EXPECT_EQ(load_error(flipped), bad + ": model file checksum mismatch");
    // Trailing bytes.
    auto longer = bytes;
    longer.push_back(0);
    EXPECT_NE(load_error(longer).find("trailing data"), std::string::npos);
    // Another version.
    auto v2 = bytes;
    v2[8] = 2;
    EXPECT_EQ(load_error(v2), bad + ": unsupported model file version 2");
    // Config and tensors that disagree.
    auto other = with_header(bytes, [](nlohmann::json& j) { j["config"]["channels"] = 4; });
    EXPECT_EQ(load_error(other), bad + ": tensor encoder.body.0.weight has shape [8,3,3,3], config expects [4,3,3,3]");
    // A bad config.
    auto badcfg = with_header(bytes, [](nlohmann::json& j) { j["config"]["n"] = 15; });
    EXPECT_NE(load_error(badcfg).find("n must be a perfect square"), std::string::npos);
    // Weights that do not give the stored fingerprint.
    auto fp = with_header(bytes, [](nlohmann::json& j) { j["fingerprint"] = "0123456789abcdef"; });
    spit(bad, fp);
    EXPECT_NE(error_of([&] { Codec::load(bad); }).find("fingerprint mismatch"), std::string::npos);
    // A missing file names the path.
    EXPECT_EQ(error_of([&] { Codec::load(tmp_path("nonexistent.scvm")); }).find(tmp_path("nonexistent.scvm")), 0u);
    std::remove(good.c_str());
    std::remove(bad.c_str());
}

TEST(ModelFile, ExpectedTensorsMatchTheNetwork) {
    // expected_tensors() works the shapes out from the config alone; it must list exactly what the network has.
    std::vector<ModelConfig> cfgs;
    for (const auto& name : ModelConfig::preset_names()) cfgs.push_back(ModelConfig::preset_config(name));
    auto odd = ModelConfig::preset_config("tiny");
    odd.num_res_blocks = 2;
    odd.attn_levels = {0, 2};
    odd.mid_attention = false;
    odd.ch_mult = {1, 3, 2};
    cfgs.push_back(odd);
    for (float ema : {0.0f, 0.99f}) {  // the VQ latent: a codebook parameter, or buffers with EMA
        auto vq = ModelConfig::preset_config("tiny");
        vq.latent = "vq";
        vq.ema_decay = ema;
        cfgs.push_back(vq);
    }
    for (const auto& cfg : cfgs) {
        if (cfg.channels > 64) continue;  // building the paper presets takes too long for a unit test
        SCVAE net(cfg);
        std::vector<TensorShape> real;
        for (const auto& p : net->named_parameters(true)) real.push_back({p.key(), p.value().sizes().vec(), false});
        for (const auto& b : net->named_buffers(true)) real.push_back({b.key(), b.value().sizes().vec(), true});
        auto want = expected_tensors(cfg);
        ASSERT_EQ(want.size(), real.size()) << cfg.to_json().dump();
        for (size_t i = 0; i < want.size(); ++i) {
            EXPECT_EQ(want[i].name, real[i].name) << i;
            EXPECT_EQ(want[i].shape, real[i].shape) << want[i].name;
            EXPECT_EQ(want[i].buffer, real[i].buffer) << want[i].name;
        }
    }
}

TEST(ModelFile, HostileHeaders) {
    Codec& c = tiny_codec();
    std::string good = tmp_path("hostile-good.scvm"), bad = tmp_path("hostile-bad.scvm");
    c.save(good, {});
    auto bytes = slurp(good);
    auto errors = [&](const std::vector<uint8_t>& b) {
        spit(bad, b);
        std::string e1 = error_of([&] { Codec::load(bad); });
        std::string e2 = error_of([&] { read_model_info(bad); });
        EXPECT_EQ(e1, e2);
        return e1;
    };
    // A config that asks for a huge network is refused from the header, before anything is allocated
    // (K = 65535 would need a 17 GB matrix, channels = 4096 gigabytes of convolutions): by the parameter bound
    // of the config (issue 15), and where the config is within it, by the tensor shapes.
    EXPECT_EQ(errors(with_header(bytes, [](nlohmann::json& j) { j["config"]["K"] = 65535; })),
              bad + ": model config: the network would have 4297064139 parameters (at most 2147483648)");
    EXPECT_NE(errors(with_header(bytes, [](nlohmann::json& j) { j["config"]["channels"] = 4096; }))
                  .find("parameters (at most 2147483648)"),
              std::string::npos);
    EXPECT_EQ(errors(with_header(bytes, [](nlohmann::json& j) { j["config"]["K"] = 4096; })),
              bad + ": tensor lista.W_e has shape [32,16], config expects [4096,16]");
    // A shape of non-integers, a shape whose byte count wraps around, overlapping tensors.
    EXPECT_EQ(errors(with_header(bytes, [](nlohmann::json& j) { j["tensors"][0]["shape"][0] = 8.5; })),
              bad + ": corrupt model file header (tensor encoder.body.0.weight has a bad shape)");
    EXPECT_EQ(errors(with_header(bytes, [](nlohmann::json& j) {
                  j["tensors"][0]["shape"] = {int64_t(1) << 32, int64_t(1) << 32};
                  j["tensors"][0]["bytes"] = 0;
              })),
              bad + ": corrupt model file header (tensor encoder.body.0.weight has a bad shape)");
    EXPECT_EQ(errors(with_header(bytes, [](nlohmann::json& j) { j["tensors"][1]["offset"] = 4; })),
              bad + ": corrupt model file header (tensors encoder.body.0.weight and encoder.body.0.bias overlap)");
    // info gives the same facts as a load, without building the network.
    ModelInfo info = read_model_info(good);
    EXPECT_EQ(info.fingerprint, c.fingerprint());
    std::remove(good.c_str());
    std::remove(bad.c_str());
}

TEST(ModelFile, CheckedInTinyModelLoads) {
    std::string path = std::string(SCVAE_TEST_DATA) + "/tiny.scvm";
    Codec c = Codec::load(path);
    EXPECT_EQ(c.config().preset, "tiny");
    EXPECT_EQ(c.config().n, 16);
    auto again = Codec::init(ModelConfig::preset_config("tiny"), 1);
    std::string p2 = tmp_path("tiny2.scvm");
    again.save(p2, c.meta(), true);
    EXPECT_EQ(Codec::load(p2).fingerprint(), c.fingerprint()) << "tests/data/tiny.scvm is preset tiny, seed 1, f16";
    std::remove(p2.c_str());
}

// The fingerprint as scvae-model(5) defines it, computed here from the file's bytes and the constants the man
// page gives: a fingerprint computed from the documentation matches the file.
TEST(ModelFile, FingerprintFollowsTheManPage) {
    std::ifstream man(std::string(SCVAE_SOURCE_DIR) + "/man/scvae-model.5");
    std::string text((std::istreambuf_iterator<char>(man)), std::istreambuf_iterator<char>());
    const size_t at = text.find("offset basis ");
    ASSERT_NE(at, std::string::npos);
    const uint64_t basis = std::strtoull(text.c_str() + at + 13, nullptr, 10);
    const size_t pr = text.find("prime ", at);
    ASSERT_NE(pr, std::string::npos);
    const uint64_t prime = std::strtoull(text.c_str() + pr + 6, nullptr, 10);
    EXPECT_EQ(basis, 14695981039346656037ULL) << "the standard FNV-1a 64 offset basis";
    EXPECT_EQ(prime, 1099511628211ULL);

    for (const char* file : {"/tiny.scvm", "/../../models/default.scvm"}) {
        const auto b = slurp(std::string(SCVAE_TEST_DATA) + file);
        if (b.empty()) continue;
        uint32_t jlen;
        std::memcpy(&jlen, &b[12], 4);
        const auto h = nlohmann::json::parse(b.begin() + 16, b.begin() + 16 + jlen);
        const uint8_t* data = b.data() + 16 + jlen;
        uint64_t x = basis;
        auto add = [&](const void* p, size_t n) {
            for (size_t i = 0; i < n; ++i) x = (x ^ static_cast<const uint8_t*>(p)[i]) * prime;
        };
        const std::string cj = h["config"].dump();  // compact, keys sorted
        add(cj.data(), cj.size());
        for (const auto& t : h["tensors"]) {
            const std::string name = t["name"];
            add(name.c_str(), name.size() + 1);
            const auto shape = t["shape"].get<std::vector<int64_t>>();
            const int64_t dims = static_cast<int64_t>(shape.size());
            add(&dims, 8);
            for (int64_t s : shape) add(&s, 8);
            const bool half = t["dtype"] == "f16";
            auto v = torch::from_blob(const_cast<uint8_t*>(data) + t["offset"].get<uint64_t>(), shape,
                                      half ? torch::kHalf : torch::kFloat32)
                         .to(torch::kFloat32)
                         .contiguous();
            const float* f = v.data_ptr<float>();
            for (int64_t i = 0; i < v.numel(); ++i) {
                const float value = f[i] == 0.0f ? 0.0f : f[i];  // -0 as +0
                add(&value, 4);
            }
        }
        char hex[17];
        std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(x));
        if (std::string(file) == "/tiny.scvm")
            EXPECT_EQ(hex, h["fingerprint"].get<std::string>()) << file;
        else  // the bundled model carries a legacy fingerprint (scvae-model(5)): it loads and keeps it
            EXPECT_EQ(Codec::load(std::string(SCVAE_TEST_DATA) + file).fingerprint(), h["fingerprint"]);
    }
}

// A file written before the fingerprint was fixed (legacy offset basis, raw bytes) loads and keeps its
// stored fingerprint.
TEST(ModelFile, LegacyFingerprintStillLoads) {
    const std::string legacy = std::string(SCVAE_TEST_DATA) + "/legacy/tiny-legacy-fingerprint.scvm";
    Codec old = Codec::load(legacy);
    EXPECT_EQ(old.fingerprint(), "7e9399e40796bf11");
    EXPECT_EQ(read_model_info(legacy).fingerprint, "7e9399e40796bf11");  // info reads it without a network
    Codec now = Codec::load(std::string(SCVAE_TEST_DATA) + "/tiny.scvm");
    EXPECT_NE(now.fingerprint(), old.fingerprint());
    EXPECT_EQ(old.config().to_json(), now.config().to_json());
    // changed weights under a legacy fingerprint are still refused
    auto bytes = slurp(legacy);
    uint32_t jlen;
    std::memcpy(&jlen, &bytes[12], 4);
    bytes[16 + jlen + 100] ^= 0x40;
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, bytes.data(), static_cast<uInt>(bytes.size() - 4));
    uint32_t crc = static_cast<uint32_t>(c);
    std::memcpy(&bytes[bytes.size() - 4], &crc, 4);
    const std::string bad = tmp_path("legacy-bad.scvm");
    spit(bad, bytes);
    EXPECT_NE(error_of([&] { Codec::load(bad); }).find("fingerprint mismatch"), std::string::npos);
    std::remove(bad.c_str());
}

// The sign of a zero is a kernel accident, not a property of the model: it changes neither the fingerprint
// nor the file.
TEST(ModelFile, NegativeZeroChangesNeitherFingerprintNorFile) {
    for (bool half : {false, true}) {
        Codec a = Codec::init(ModelConfig::preset_config("tiny"), 1);
        Codec b = Codec::init(ModelConfig::preset_config("tiny"), 1);
        {
            torch::NoGradGuard ng;
            auto S = b.impl().net->lista->S;
            auto zeros = (S == 0).nonzero();
            ASSERT_GT(zeros.size(0), 0) << "S has exact zeros (orthogonal atoms)";
            for (int64_t i = 0; i < zeros.size(0); i += 2)
                S.index_put_({zeros[i][0], zeros[i][1]}, -0.0f);
            auto w = b.impl().net->parameters()[0];
            w.flatten()[0] = -0.0f;
            a.impl().net->parameters()[0].flatten()[0] = 0.0f;
        }
        EXPECT_EQ(compute_fingerprint(a.config(), a.impl().net), compute_fingerprint(b.config(), b.impl().net));
        const std::string pa = tmp_path("z-a.scvm"), pb = tmp_path("z-b.scvm");
        a.save(pa, a.meta(), half);
        b.save(pb, b.meta(), half);
        EXPECT_EQ(slurp(pa), slurp(pb)) << "half " << half;
        EXPECT_EQ(Codec::load(pb).fingerprint(), Codec::load(pa).fingerprint());
        std::remove(pa.c_str());
        std::remove(pb.c_str());
    }
}

// The fixed parts come out of float64 with their exact zeros exact: S = I - D^T D / L has +0 (never -0) where
// two atoms are orthogonal, and agrees with a float64 computation to float32 rounding.
TEST(Model, FixedPartsAreExactWhereTheyShouldBe) {
    LISTA l(64, 128, 4, 1.0, "lista");
    auto S = l->S.detach();
    auto bits = S.view(torch::kInt32);
    EXPECT_EQ((bits == static_cast<int32_t>(0x80000000u)).sum().item<int64_t>(), 0) << "no -0 in S";
    EXPECT_GT((S == 0).sum().item<int64_t>(), 0);
    auto D = dct_dictionary(64, 128).to(torch::kFloat64);
    auto S64 = torch::eye(128, torch::kFloat64) - D.t().matmul(D) / l->L;
    EXPECT_LE((S.to(torch::kFloat64) - S64).norm().item<double>(), 1e-6 * S64.norm().item<double>());
    EXPECT_FLOAT_EQ(static_cast<float>(l->L), static_cast<float>(lipschitz_constant(D)));
}

// ---------------------------------------------------------------------------------------------------------
// Config

TEST(Config, JsonRoundTripOfEveryPreset) {
    for (const auto& name : ModelConfig::preset_names()) {
        auto c = ModelConfig::preset_config(name);
        EXPECT_NO_THROW(c.validate()) << name;
        auto j = c.to_json();
        auto back = ModelConfig::from_json(j);
        EXPECT_EQ(back.to_json(), j) << name;
        // Through text as well.
        EXPECT_EQ(ModelConfig::from_json(nlohmann::json::parse(j.dump())).to_json(), j);
    }
}

TEST(Config, PresetsAsSpecified) {
    auto cpu = ModelConfig::preset_config("cpu-f8");
    EXPECT_EQ(cpu.d(), 3);
    EXPECT_EQ(cpu.n, 256);
    EXPECT_EQ(cpu.K, 512);
    EXPECT_EQ(cpu.steps, 16);
    auto tiny = ModelConfig::preset_config("tiny");
    EXPECT_EQ(tiny.d(), 2);
    EXPECT_EQ(tiny.factor(), 4);
    EXPECT_EQ(tiny.channels, 8);
    EXPECT_EQ(tiny.n, 16);
    EXPECT_EQ(tiny.K, 32);
    EXPECT_EQ(tiny.steps, 4);
    EXPECT_EQ(ModelConfig::preset_config("paper-f256").d(), 8);
    EXPECT_THROW(ModelConfig::preset_config("huge"), InvalidArgument);
}

TEST(Config, PartialJsonStartsFromThePreset) {
    auto c = ModelConfig::from_json({{"preset", "tiny"}, {"K", 40}, {"solver", "fista"}});
    EXPECT_EQ(c.K, 40);
    EXPECT_EQ(c.solver, "fista");
    EXPECT_EQ(c.n, 16);
    EXPECT_EQ(c.channels, 8);
}

TEST(Config, BadFieldsAreErrors) {
    auto msg = [](const nlohmann::json& j) { return error_of([&] { ModelConfig::from_json(j); }); };
    EXPECT_EQ(msg({{"colour", 1}}), "model config: unknown field 'colour'");
    EXPECT_EQ(msg({{"channels", "many"}}), "model config: field 'channels': expected an integer");
    EXPECT_EQ(msg({{"ch_mult", {1, "x"}}}), "model config: field 'ch_mult': expected an array of integers");
    EXPECT_NE(msg({{"n", 250}}).find("perfect square"), std::string::npos);
    EXPECT_NE(msg({{"K", 70000}}).find("K must be in 1..65535"), std::string::npos);
    EXPECT_NE(msg({{"solver", "omp"}}).find("solver must be lista, ista or fista"), std::string::npos);
    EXPECT_NE(msg({{"ch_mult", nlohmann::json::array()}}).find("at least one level"), std::string::npos);
    EXPECT_NE(msg({{"attn_levels", {9}}, {"preset", "tiny"}}).find("attn_levels"), std::string::npos);
    EXPECT_NE(msg({{"alpha", -1}}).find("alpha"), std::string::npos);
    EXPECT_EQ(msg(nlohmann::json::array()), "model config: expected a JSON object");
}

TEST(Config, DefaultModelPathHonoursTheEnvironment) {
    ::setenv("SCVAE_MODEL", "/some/where/model.scvm", 1);
    EXPECT_EQ(default_model_path(), "/some/where/model.scvm");
    ::unsetenv("SCVAE_MODEL");
    // Without it: a bundled model if one exists, else an error that says what to do.
    try {
        std::string p = default_model_path();
        EXPECT_NE(p.find("default.scvm"), std::string::npos);
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("SCVAE_MODEL"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("--model"), std::string::npos);
    }
}
