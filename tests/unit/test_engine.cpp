// The torch-free inference engine (lib/src/infer/engine.cpp) against the LibTorch modules it mirrors: the same
// weights give the same latent, codes and images to float rounding, for both presets, every solver and VQ.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "infer/engine.h"
#include "model/networks.h"
#include "scvae/error.h"
#include "scvae/model.h"

using namespace scvae;

namespace {

// Every weight moved off its initial value (GroupNorm's 1 and 0, LISTA's DCT-derived matrices), so that the
// comparison sees each of them.
void perturb(SCVAE& net, uint64_t seed) {
    torch::NoGradGuard ng;
    torch::manual_seed(seed);
    for (auto& p : net->named_parameters(true)) {
        auto& v = p.value();
        if (p.key().find("norm") != std::string::npos)
            v.add_(torch::randn_like(v) * 0.2);
        else if (p.key() == "lista.theta")
            v.mul_(1.0 + torch::rand_like(v));
        else if (p.key().rfind("lista.", 0) == 0)
            v.add_(torch::randn_like(v) * 0.002);
        else
            v.mul_(1.3);  // larger activations than the default init: the attention and thresholds have work
    }
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

torch::Tensor nhwc(const torch::Tensor& nchw) { return nchw.permute({0, 2, 3, 1}).contiguous(); }

torch::Tensor from_vec(const std::vector<float>& v, at::IntArrayRef sizes) {
    return torch::from_blob(const_cast<float*>(v.data()), sizes, torch::kFloat32).clone();
}

struct Case {
    std::string preset, solver;
    bool vq = false;
};

void check_case(const Case& c) {
    SCOPED_TRACE(c.preset + " " + c.solver + (c.vq ? " vq" : ""));
    auto cfg = ModelConfig::preset_config(c.preset);
    if (c.vq) cfg.latent = "vq";
    torch::manual_seed(5);
    SCVAE net(cfg);
    net->eval();
    perturb(net, 11);
    if (!c.vq) {
        net->lista->solver = c.solver;
    }
    infer::Network eng(cfg, tensor_source(net));
    if (!c.vq) eng.set_solver(c.solver, cfg.steps);

    c10::InferenceMode guard;
    const int f = cfg.factor(), B = 2, gh = 3, gw = 5;  // odd grids: every border of the sub-pixel phases
    auto x = torch::rand({B, 3, gh * f, gw * f}) * 2 - 1;
    auto xh = nhwc(x);

    // encoder
    auto lat_ref = nhwc(net->encoder->forward(x));  // B x h x w x n
    std::vector<float> lat(size_t(lat_ref.numel()));
    eng.encode_latent(xh.data_ptr<float>(), B, gh * f, gw * f, lat.data());
    auto lat_t = from_vec(lat, lat_ref.sizes());
    const double ls = max_abs(lat_ref);
    EXPECT_GT(ls, 0.01);
    EXPECT_LT(max_abs(lat_t - lat_ref), 1e-4 * ls);

    // codes (from the engine's own latent: the solver is checked on the same input)
    auto z_ref = (c.vq ? net->vq->assign(lat_t.reshape({-1, cfg.n})) : net->lista->forward(lat_t.reshape({-1, cfg.n})))
                     .reshape({B, gh, gw, cfg.K});
    std::vector<float> z(size_t(z_ref.numel()));
    eng.encode(xh.data_ptr<float>(), B, gh * f, gw * f, z.data());
    auto z_t = from_vec(z, z_ref.sizes());
    const double zs = max_abs(z_ref);
    EXPECT_GT(zs, 0.0);
    if (c.vq) {
        EXPECT_TRUE(torch::equal(z_t, z_ref));
    } else {
        const int64_t nnz = z_ref.ne(0).sum().item<int64_t>();
        EXPECT_GT(nnz, 0);
        EXPECT_LT(nnz, z_ref.numel());  // the thresholds bite: both sides of the soft threshold are exercised
        EXPECT_LT(max_abs(z_t - z_ref), 2e-4 * zs);
    }

    // decoder from D z
    auto rows = from_vec(eng.atom_rows(), {cfg.K, cfg.n});
    auto latent_hat = z_ref.reshape({-1, cfg.K}).matmul(rows).reshape({B, gh, gw, cfg.n}).contiguous();
    auto img_ref = nhwc(net->decode_codes(z_ref));
    std::vector<float> img(size_t(img_ref.numel()));
    eng.decode_latent(latent_hat.data_ptr<float>(), B, gh, gw, img.data());
    auto img_t = from_vec(img, img_ref.sizes());
    const double is = max_abs(img_ref);
    EXPECT_GT(is, 0.01);
    EXPECT_LT(max_abs(img_t - img_ref), 1e-4 * is);
}

}  // namespace

TEST(Engine, MatchesLibTorchTinyLista) { check_case({"tiny", "lista"}); }
TEST(Engine, MatchesLibTorchCpuF8Lista) { check_case({"cpu-f8", "lista"}); }
TEST(Engine, MatchesLibTorchIsta) { check_case({"tiny", "ista"}); }
TEST(Engine, MatchesLibTorchFista) { check_case({"tiny", "fista"}); }
TEST(Engine, MatchesLibTorchVq) { check_case({"tiny", "lista", true}); }

TEST(Engine, AttentionOverManyPositionsMatches) {
    // a grid of 6,400 positions: both the engine (2^24 / P = 2,621 queries per chunk) and the LibTorch module
    // split the attention's queries into chunks
    auto cfg = ModelConfig::preset_config("tiny");
    torch::manual_seed(7);
    SCVAE net(cfg);
    net->eval();
    perturb(net, 13);
    infer::Network eng(cfg, tensor_source(net));
    c10::InferenceMode guard;
    const int f = cfg.factor(), gh = 80, gw = 80;
    auto x = torch::rand({1, 3, gh * f, gw * f}) * 2 - 1;
    auto lat_ref = nhwc(net->encoder->forward(x));
    std::vector<float> lat(size_t(lat_ref.numel()));
    auto xh = nhwc(x);
    eng.encode_latent(xh.data_ptr<float>(), 1, gh * f, gw * f, lat.data());
    EXPECT_LT(max_abs(from_vec(lat, lat_ref.sizes()) - lat_ref), 1e-4 * max_abs(lat_ref));
}

TEST(Engine, FastExpIsAccurate) {
    double worst = 0;
    for (float x = -87.f; x <= 88.f; x += 0.001953125f) {
        const double want = std::exp(static_cast<double>(x));
        worst = std::max(worst, std::fabs(infer::detail::fast_exp(x) - want) / want);
    }
    EXPECT_LT(worst, 3e-7);
    EXPECT_GT(infer::detail::fast_exp(-1000.f), 0.f);  // clamped, never 0 or NaN
    EXPECT_TRUE(std::isfinite(infer::detail::fast_exp(1000.f)));
}

TEST(Engine, GroupNormMatchesLibTorch) {
    // large means (the two-pass variance), several groups, swish on and off, one and two images
    torch::manual_seed(9);
    for (bool swish : {false, true}) {
        const int B = 2, H = 7, W = 33, C = 48, G = 16;
        auto x = torch::randn({B, C, H, W}) * 3 + 50;
        auto gamma = torch::randn({C}), beta = torch::randn({C});
        auto ref = torch::group_norm(x, G, gamma, beta, 1e-6);
        if (swish) ref = torch::silu(ref);
        auto xh = nhwc(x);
        std::vector<float> y(size_t(xh.numel()));
        infer::detail::group_norm(xh.data_ptr<float>(), y.data(), B, long(H) * W, C, G, gamma.data_ptr<float>(),
                                  beta.data_ptr<float>(), 1e-6f, swish);
        auto yt = from_vec(y, {B, H, W, C});
        EXPECT_LT(max_abs(yt - nhwc(ref)), 2e-5 * max_abs(ref)) << "swish " << swish;
    }
}

TEST(Engine, DamagedWeightsReachTheCodesInsteadOfVanishing) {
    // Weights that are absurd (huge, or NaN) must show in the codes, where the Codec refuses them ("the model gives a
    // code value out of range"), and not be thresholded away: a NaN through the soft threshold stays NaN.
    auto cfg = ModelConfig::preset_config("tiny");
    torch::manual_seed(3);
    SCVAE net(cfg);
    const infer::TensorSource plain = tensor_source(net);
    const int f = cfg.factor();
    std::vector<float> x(size_t(4 * f) * (4 * f) * 3);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * float(i));
    for (bool nan : {false, true}) {
        infer::Network eng(cfg, [&](const std::string& name) {
            std::vector<float> v = plain(name);
            if (name == "lista.W_e") {
                if (nan)
                    for (int i = 0; i < cfg.n; ++i) v[size_t(i)] = std::nanf("");  // row 0: atom 0's filter
                else
                    for (float& w : v) w *= 1e30f;
            }
            return v;
        });
        std::vector<float> z(size_t(16) * cfg.K);
        eng.encode(x.data(), 1, 4 * f, 4 * f, z.data());
        size_t absurd = 0, nans = 0;
        for (float v : z) {
            absurd += !(std::fabs(v) <= 1e15f);
            nans += std::isnan(v);
        }
        EXPECT_GT(absurd, z.size() / 2) << (nan ? "NaN weights" : "huge weights");
        if (nan) EXPECT_GT(nans, z.size() / 2);
    }
}
