// test_vq.cpp - the VQ-VAE latent (the paper's discrete baseline in the same network): its config, tensors,
// one-hot codes of the nearest codebook entry, the straight-through estimator and its losses, EMA codebook
// updates and the model file (data-parallel training with EMA codebooks: test_train.cpp).
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>

#include "scvae/error.h"
#include "model/networks.h"

namespace fs = std::filesystem;
using namespace scvae;

namespace {

ModelConfig tiny_vq(float ema = 0) {
    ModelConfig c = ModelConfig::preset_config("tiny");
    c.latent = "vq";
    c.ema_decay = ema;
    return c;
}

Image random_image(int w, int h, unsigned seed) {
    Image img;
    img.width = w;
    img.height = h;
    img.channels = 3;
    img.data.resize(size_t(w) * h * 3);
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0, 1);
    for (auto& v : img.data) v = u(rng);
    return img;
}

std::string tmp_dir(const std::string& name) {
    auto d = fs::temp_directory_path() / ("scvae-test-vq-" + std::to_string(getpid()) + "-" + name);
    fs::remove_all(d);
    fs::create_directories(d);
    return d.string();
}

}  // namespace

TEST(VQConfig, JsonNamesTheLatentOnlyForVQ) {
    // An SC model's canonical JSON (hence every existing fingerprint) is what it was before the VQ latent.
    auto sc = ModelConfig::preset_config("tiny").to_json();
    EXPECT_FALSE(sc.contains("latent"));
    EXPECT_FALSE(sc.contains("beta"));
    auto j = tiny_vq(0.99f).to_json();
    EXPECT_EQ(j["latent"], "vq");
    EXPECT_FLOAT_EQ(j["beta"].get<float>(), 0.25f);
    EXPECT_FLOAT_EQ(j["ema_decay"].get<float>(), 0.99f);
    auto back = ModelConfig::from_json(j);
    EXPECT_TRUE(back.vq());
    EXPECT_EQ(back.to_json(), j);
    auto msg = [](nlohmann::json patch) {
        auto j = ModelConfig::preset_config("tiny").to_json();
        for (auto it = patch.begin(); it != patch.end(); ++it) j[it.key()] = it.value();
        try {
            ModelConfig::from_json(j);
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("(no error)");
    };
    EXPECT_EQ(msg({{"latent", "vae"}}), "model config: latent must be sc or vq, got 'vae'");
    EXPECT_EQ(msg({{"latent", "vq"}, {"ema_decay", 1.0}}), "model config: ema_decay must be in [0, 1) (0: no EMA)");
    EXPECT_EQ(msg({{"latent", "vq"}, {"beta", -1}}), "model config: beta must be a finite number >= 0");
    EXPECT_EQ(msg({{"latent", 3}}), "model config: field 'latent': expected a string");
}

// (test_model.cpp's ModelFile.ExpectedTensorsMatchTheNetwork checks the VQ configs against the network too)
TEST(VQModel, ExpectedTensorsHaveACodebookAndNoLISTA) {
    for (float ema : {0.0f, 0.99f}) {
        auto cfg = tiny_vq(ema);
        auto want = expected_tensors(cfg);
        for (const auto& t : want) EXPECT_NE(t.name.rfind("lista.", 0), 0u) << t.name;
        bool found = false;
        for (const auto& t : want)
            if (t.name == "vq.codebook") {
                found = true;
                EXPECT_EQ(t.buffer, ema > 0);  // EMA moves it, not the optimiser
                EXPECT_EQ(t.shape, (std::vector<int64_t>{cfg.K, cfg.n}));
            }
        EXPECT_TRUE(found);
    }
}

TEST(VQModel, CodesAreOneHotOfTheNearestEntry) {
    Codec c = Codec::init(tiny_vq(), 5);
    auto& net = c.impl().net;
    {  // spread the codebook so that several entries are chosen
        torch::NoGradGuard ng;
        net->vq->codebook.copy_(torch::randn({net->cfg.K, net->cfg.n}, torch::TensorOptions().dtype(torch::kFloat32)) * 0.3);
    }
    auto img = random_image(24, 16, 3);
    auto rec = c.encode({img}, {"x"})[0];
    const int64_t vectors = int64_t(rec.grid_h) * rec.grid_w;
    ASSERT_EQ(int64_t(rec.nnz()), vectors);
    for (float v : rec.values) EXPECT_EQ(v, 1.0f);
    // the chosen entry is the nearest one, by brute force
    torch::NoGradGuard ng;
    auto lat = net->encoder(image_to_tensor(img)).permute({0, 2, 3, 1}).reshape({-1, net->cfg.n});
    ASSERT_EQ(lat.size(0), vectors);
    auto dense = rec.dense_matrix();
    std::set<int64_t> chosen;
    for (int64_t i = 0; i < vectors; ++i) {
        auto d = (net->vq->codebook - lat[i]).pow(2).sum(1);
        const int64_t best = d.argmin().item<int64_t>();
        EXPECT_EQ(dense[size_t(i * net->cfg.K + best)], 1.0f) << "vector " << i;
        chosen.insert(best);
    }
    EXPECT_GT(chosen.size(), 1u);
    // decoding a code decodes codebook^T z, the quantised latent: it equals the network's own reconstruction
    net->eval();
    auto x = image_to_tensor(img);
    auto out = net->forward(x);
    auto dec = net->decode_codes(net->encode_codes(x));
    EXPECT_LE((dec - out.x_hat).abs().max().item<double>(), 1e-5);
}

TEST(VQModel, StraightThroughGradientsAndLosses) {
    auto cfg = tiny_vq();
    cfg.beta = 0.5f;
    SCVAE net(cfg);
    torch::manual_seed(1);
    {
        torch::NoGradGuard ng;
        net->vq->codebook.copy_(torch::randn({cfg.K, cfg.n}) * 0.1);
    }
    net->train();
    auto x = torch::rand({2, 3, 16, 16}) * 2 - 1;
    auto out = net->forward(x);
    // the decoder sees the codebook entries' values, the encoder gets the decoder's gradient straight through
    EXPECT_LE((out.latent_hat - out.quantised).abs().max().item<double>(), 1e-6);
    auto l = scvae_loss(out, x, 0.0);
    const double B = 2, hw = double(out.latent.size(2) * out.latent.size(3));
    const double sq = (out.latent - out.quantised).pow(2).sum().item<double>();
    EXPECT_NEAR(l.latent.item<double>(), (1 + 0.5) * sq / B, 1e-4 * sq);
    EXPECT_NEAR(l.l1.item<double>(), 1.0, 1e-6);  // one non-zero of value 1 per position
    l.total.backward();
    // codebook gradient of the codebook loss alone: d/de (1/(B hw)) sum ||sg[E] - e||^2 over the vectors on e
    auto z = out.code.reshape({-1, cfg.K});
    auto E = out.latent.detach().permute({0, 2, 3, 1}).reshape({-1, cfg.n});
    auto want = 2.0 * (z.t().matmul(z).diag().unsqueeze(1) * net->vq->codebook.detach() - z.t().matmul(E)) / (B * hw);
    ASSERT_TRUE(net->vq->codebook.grad().defined());
    EXPECT_LE((net->vq->codebook.grad() - want).abs().max().item<double>(),
              1e-4 * std::max(1e-6, want.abs().max().item<double>()));
    // the encoder's last convolution gets a gradient (through the straight-through estimator and the commitment)
    bool enc_grad = false;
    for (auto& p : net->encoder->named_parameters(true))
        if (p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0) enc_grad = true;
    EXPECT_TRUE(enc_grad);
}

TEST(VQModel, EmaMovesEntriesToTheMeanOfTheirVectors) {
    VQ vq(4, 3, 0.5);
    torch::NoGradGuard ng;
    vq->codebook.copy_(torch::tensor({{0.f, 0.f, 0.f, 0.f}, {10.f, 10.f, 10.f, 10.f}, {-10.f, -10.f, -10.f, -10.f}}));
    vq->ema_sum.copy_(vq->codebook);
    vq->ema_count.fill_(1);
    auto x = torch::tensor({{1.f, 1.f, 1.f, 1.f}, {3.f, 3.f, 3.f, 3.f}, {9.f, 9.f, 9.f, 9.f}});
    for (int i = 0; i < 12; ++i) {
        auto z = vq->assign(x);
        vq->ema_update(z.sum(0), z.t().matmul(x));
    }
    // entry 0 takes the mean of the first two vectors, entry 1 the third; entry 2 (never chosen) keeps its
    // direction while its count decays (Laplace smoothing keeps it finite; once the count is below the smoothing
    // constant the entry shrinks towards 0, where it can be chosen again)
    EXPECT_NEAR(vq->codebook[0][0].item<double>(), 2.0, 2e-3) << vq->codebook;
    EXPECT_NEAR(vq->codebook[1][0].item<double>(), 9.0, 2e-3);
    EXPECT_TRUE(torch::isfinite(vq->codebook).all().item<bool>());
    EXPECT_LT(vq->codebook[2][0].item<double>(), 0.0);
}

TEST(VQModel, ModelFileRoundTripAndDistinctFingerprint) {
    const std::string d = tmp_dir("file");
    Codec sc = Codec::init(ModelConfig::preset_config("tiny"), 2);
    for (float ema : {0.0f, 0.99f}) {
        Codec c = Codec::init(tiny_vq(ema), 2);
        EXPECT_NE(c.fingerprint(), sc.fingerprint());
        c.save(d + "/vq.scvm", {{"note", "vq"}});
        Codec l = Codec::load(d + "/vq.scvm");
        EXPECT_EQ(l.fingerprint(), c.fingerprint());
        EXPECT_TRUE(l.config().vq());
        EXPECT_FLOAT_EQ(l.config().ema_decay, ema);
        auto img = random_image(20, 12, 7);
        auto r1 = c.encode({img}, {"x"})[0], r2 = l.encode({img}, {"x"})[0];
        EXPECT_EQ(r1.indices, r2.indices);
        EXPECT_EQ(c.decode(r1).data, l.decode(r2).data);
        EXPECT_TRUE(read_model_info(d + "/vq.scvm").config.vq());
    }
    fs::remove_all(d);
}
