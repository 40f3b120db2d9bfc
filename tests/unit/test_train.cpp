// test_train.cpp - scvae-train's data order, the distributed equivalence and exact resume.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "scvae/dataset.h"
#include "scvae/error.h"
#include "scvae/train.h"
#include "model/networks.h"

namespace fs = std::filesystem;
using namespace scvae;

namespace {

std::string images_dir() {
    static std::string dir = [] {
        std::string d = (fs::temp_directory_path() / ("scvae-test-train-" + std::to_string(getpid()))).string();
        fs::create_directories(d + "/imgs");
        for (const char* f : {"photo1.jpg", "photo2.png", "photo3.jpg", "photo64.png", "gradient.png", "baseline.jpg"})
            fs::copy_file(std::string(SCVAE_TEST_DATA) + "/images/" + f, d + "/imgs/" + f,
                          fs::copy_options::overwrite_existing);
        return d;
    }();
    return dir;
}

TrainOptions tiny_options(const std::string& run) {
    TrainOptions o;
    o.inputs = {images_dir() + "/imgs"};
    o.run_dir = run;
    o.preset = "tiny";
    o.size = 32;
    o.batch = 2;
    o.steps = 4;
    o.threads = 1;
    o.data_threads = 1;
    o.val_fraction = 0;
    o.quiet = true;
    o.seed = 3;
    o.lr = 1e-3;
    return o;
}

std::vector<torch::Tensor> weights(const std::string& path) {
    auto impl = load_model_file(path, torch::kCPU);
    std::vector<torch::Tensor> v;
    for (auto& p : impl->net->parameters()) v.push_back(p.detach().clone());
    return v;
}

double max_relative_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
    EXPECT_EQ(a.size(), b.size());
    double worst = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        double d = (a[i] - b[i]).norm().item<double>(), n = b[i].norm().item<double>();
        double r = n > 0 ? d / n : d;
        worst = std::max(worst, r);
    }
    return worst;
}

// The difference of two gradients (one tensor per parameter), measured against the size of the gradient:
// max over tensors of |a_i - b_i| / max(|b_i|, floor * |b|), with |.| the 2-norm and |b| the norm of all of
// b. A tensor whose gradient is a sizeable part of the whole is held to its own norm; one whose gradient is
// nearly zero (its terms cancel, so what is left is summation-order rounding of terms as large as the rest)
// is held to the floor. Element-wise or per-tensor relative differences on such near-zero tensors measure
// only the BLAS kernel's summation order.
double gradient_difference(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b,
                           double floor = 1e-3) {
    EXPECT_EQ(a.size(), b.size());
    double all = 0;
    for (const auto& t : b) all += t.to(torch::kFloat64).pow(2).sum().item<double>();
    all = std::sqrt(all);
    double worst = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
        const double d = (a[i].to(torch::kFloat64) - b[i].to(torch::kFloat64)).norm().item<double>();
        const double n = b[i].to(torch::kFloat64).norm().item<double>();
        worst = std::max(worst, d / std::max(n, floor * all));
    }
    return worst;
}

// Runs `o` as rank 0 and rank 1 of a two-process group (threads of this process), each writing its final
// weights to `rank_model` ({rank} replaced); true when both ranks returned 0.
bool train_two_ranks(const TrainOptions& o, int port_base, const std::string& rank_model) {
    std::vector<int> rc(2, -1);
    std::vector<std::thread> ranks;
    for (int r = 0; r < 2; ++r)
        ranks.emplace_back([&, r] {
            TrainOptions mine = o;
            mine.world_size = 2;
            mine.rank = r;
            mine.master_port = port_base + int(getpid() % 2000);
            mine.rank_model = rank_model;
            try {
                rc[r] = train_main(mine);
            } catch (const std::exception& e) {
                ADD_FAILURE() << "rank " << r << ": " << e.what();
            }
        });
    for (auto& t : ranks) t.join();
    return rc[0] == 0 && rc[1] == 0;
}

}  // namespace

TEST(Dataset, HashSplitIsDeterministicAndIgnoresFolders) {
    std::vector<std::string> files, t1, v1, t2, v2;
    for (int i = 0; i < 400; ++i) files.push_back("a/img" + std::to_string(i) + ".jpg");
    split_by_hash(files, 0.25, t1, v1);
    std::vector<std::string> moved;
    for (auto& f : files) moved.push_back("other/folder/" + fs::path(f).filename().string());
    split_by_hash(moved, 0.25, t2, v2);
    ASSERT_EQ(v1.size(), v2.size());
    for (size_t i = 0; i < v1.size(); ++i) EXPECT_EQ(fs::path(v1[i]).filename(), fs::path(v2[i]).filename());
    EXPECT_GT(v1.size(), 60u);
    EXPECT_LT(v1.size(), 140u);
    EXPECT_EQ(t1.size() + v1.size(), files.size());
}

TEST(Dataset, StreamIsAPermutationPerEpoch) {
    const size_t n = 37;
    for (uint64_t e = 0; e < 3; ++e) {
        std::vector<int> seen(n, 0);
        for (size_t k = 0; k < n; ++k) ++seen[stream_item(7, n, e * n + k)];
        for (size_t i = 0; i < n; ++i) EXPECT_EQ(seen[i], 1) << "epoch " << e << " image " << i;
    }
    // different epochs, different orders
    bool differ = false;
    for (size_t k = 0; k < n; ++k) differ |= stream_item(7, n, k) != stream_item(7, n, n + k);
    EXPECT_TRUE(differ);
}

TEST(Dataset, RanksShareTheGlobalBatch) {
    ImageSetOptions io;
    io.crop = 16;
    ImageSet set = ImageSet::load(discover_images({images_dir() + "/imgs"}), io, "test");
    ASSERT_EQ(set.size(), 6u);
    for (uint64_t step = 0; step < 5; ++step) {
        Batch whole = BatchStream::make(set, 4, 1, 0, 11, step);
        Batch r0 = BatchStream::make(set, 2, 2, 0, 11, step), r1 = BatchStream::make(set, 2, 2, 1, 11, step);
        std::vector<float> joined = r0.data;
        joined.insert(joined.end(), r1.data.begin(), r1.data.end());
        EXPECT_EQ(joined, whole.data) << "step " << step;
    }
    // the threaded stream returns exactly what make() builds, starting anywhere
    BatchStream stream(set, 3, 1, 0, 11, 2, 2);
    for (uint64_t step = 2; step < 8; ++step) {
        Batch b = stream.next();
        EXPECT_EQ(b.step, step);
        EXPECT_EQ(b.data, BatchStream::make(set, 3, 1, 0, 11, step).data);
    }
}

TEST(Dataset, EmptyAndTooSmallAreErrors) {
    ImageSetOptions io;
    io.crop = 16;
    EXPECT_THROW(ImageSet::load({}, io, "training set"), Error);
    io.min_side = 128;  // photo2.png is 96x96
    EXPECT_THROW(ImageSet::load({images_dir() + "/imgs/photo2.png"}, io, "training set"), Error);
}

TEST(Train, TwoRanksEqualOneProcessWithTheCombinedBatch) {
    const std::string d = images_dir();
    fs::remove_all(d + "/r0");
    fs::remove_all(d + "/single");
    TrainOptions single = tiny_options(d + "/single");
    single.batch = 4;
    single.adam_eps = 1;
    single.rank_model = d + "/single.scvm";
    ASSERT_EQ(train_main(single), 0);

    // Adam's first steps move each weight by about lr*sign(gradient): where a gradient is ~0, rounding
    // differences between the two summation orders would flip whole lr-sized steps. A large epsilon keeps
    // the update proportional to the gradient, so the comparison measures the data-parallel arithmetic.
    TrainOptions both = tiny_options(d + "/r0");
    both.adam_eps = 1;
    ASSERT_TRUE(train_two_ranks(both, 29000, d + "/rank{rank}.scvm"));
    auto w0 = weights(d + "/rank0.scvm"), w1 = weights(d + "/rank1.scvm"), ws = weights(d + "/single.scvm");
    EXPECT_EQ(max_relative_difference(w0, w1), 0.0) << "the replicas diverged";
    auto init = Codec::init(ModelConfig::preset_config("tiny"), 3);
    std::vector<torch::Tensor> w_init, u0, us;
    for (auto& p : init.impl().net->parameters()) w_init.push_back(p.detach());
    for (size_t i = 0; i < ws.size(); ++i) {
        u0.push_back(w0[i] - w_init[i]);
        us.push_back(ws[i] - w_init[i]);
    }
    // what training changed, compared as the gradients are: each tensor's update against its own norm (or 1e-3
    // of the whole update where it is near zero), so summation-order rounding of another BLAS kernel passes and
    // a wrong data-parallel step does not
    // (measured: 2e-5 to 6e-5 under five OpenBLAS kernels of this machine; a sum instead of a mean, or one rank's
    // half of the batch alone, would change the update by a factor, a difference of order 1)
    EXPECT_LE(gradient_difference(u0, us), 1e-3) << "weights differ by " << max_relative_difference(w0, ws);
    // and training moved the weights at all
    EXPECT_GT(max_relative_difference(ws, w_init), 1e-4);
}

TEST(Train, ResumeContinuesExactly) {
    const std::string d = images_dir();
    fs::remove_all(d + "/straight");
    fs::remove_all(d + "/halves");
    TrainOptions a = tiny_options(d + "/straight");
    a.steps = 6;
    ASSERT_EQ(train_main(a), 0);
    TrainOptions b = tiny_options(d + "/halves");
    b.steps = 3;
    ASSERT_EQ(train_main(b), 0);
    TrainOptions c;
    c.resume = d + "/halves";
    c.steps = 6;
    c.threads = 1;
    c.data_threads = 1;
    c.quiet = true;
    ASSERT_EQ(train_main(c), 0);
    auto wa = weights(d + "/straight/last.scvm"), wb = weights(d + "/halves/last.scvm");
    EXPECT_EQ(max_relative_difference(wa, wb), 0.0);
    EXPECT_EQ(read_model_info(d + "/straight/last.scvm").fingerprint,
              read_model_info(d + "/halves/last.scvm").fingerprint);
}

// The arithmetic under the data-parallel step: the mean of the ranks' gradients (each on its share of the
// global batch) equals the gradient of the combined batch.
TEST(Train, AveragedShardGradientsEqualTheCombinedBatchGradient) {
    ImageSetOptions io;
    io.crop = 32;
    ImageSet set = ImageSet::load(discover_images({images_dir() + "/imgs"}), io, "test");
    Codec codec = Codec::init(ModelConfig::preset_config("tiny"), 9);
    SCVAE net = codec.impl().net;
    auto grads = [&](Batch b, int n) {
        auto x = torch::from_blob(b.data.data(), {n, 3, 32, 32}, torch::kFloat32);
        net->zero_grad();
        scvae_loss(net->forward(x), x, 1.0).total.backward();
        std::vector<torch::Tensor> g;
        for (auto& p : net->parameters()) g.push_back(p.grad().defined() ? p.grad().clone() : torch::zeros_like(p));
        return g;
    };
    auto full = grads(BatchStream::make(set, 4, 1, 0, 5, 1), 4);
    auto g0 = grads(BatchStream::make(set, 2, 2, 0, 5, 1), 2), g1 = grads(BatchStream::make(set, 2, 2, 1, 5, 1), 2);
    std::vector<torch::Tensor> mean;
    for (size_t i = 0; i < g0.size(); ++i) mean.push_back((g0[i] + g1[i]) / 2);
    // float32 sums in another order: about 1e-6 of the gradient (1e-4 leaves room for any BLAS kernel)
    EXPECT_LE(gradient_difference(mean, full), 1e-4);
    // and the measure tells wrong arithmetic apart: one half alone, or the sum instead of the mean
    EXPECT_GT(gradient_difference(g0, full), 1e-2);
    std::vector<torch::Tensor> sum;
    for (size_t i = 0; i < g0.size(); ++i) sum.push_back(g0[i] + g1[i]);
    EXPECT_GT(gradient_difference(sum, full), 0.5);
}

// --alpha is the alpha of the model: a fresh model's LISTA thresholds start at alpha/L (as the paper's ISTA
// initialisation has it; --init-alpha sets them apart) and the saved config records it; fine-tuning with --init
// records the new alpha.
TEST(Train, AlphaSetsTheInitialThresholdsAndIsRecorded) {
    const std::string d = images_dir();
    // one step at a tiny lr (theta barely moves); returns the saved model
    auto one_step = [&](const std::string& name, double alpha, double init_alpha, const std::string& init) {
        fs::remove_all(d + "/" + name);
        TrainOptions o = tiny_options(d + "/" + name);
        o.alpha = alpha;
        o.init_alpha = init_alpha;
        o.init_model = init;
        o.lr = 1e-7;
        o.steps = 1;
        EXPECT_EQ(train_main(o), 0);
        return load_model_file(d + "/" + name + "/last.scvm", torch::kCPU);
    };
    auto expect_theta = [](const Codec::Impl& m, double value) {
        EXPECT_NEAR(m.net->lista->theta.min().item<double>(), value, 1e-5);
        EXPECT_NEAR(m.net->lista->theta.max().item<double>(), value, 1e-5);
    };
    auto fresh = one_step("alpha", 0.25, -1, "");
    EXPECT_FLOAT_EQ(fresh->cfg.alpha, 0.25f);
    expect_theta(*fresh, 0.25 / fresh->net->lista->L);

    // --init keeps the trained thresholds and records the new alpha
    auto tuned = one_step("alpha-ft", 0.5, -1, d + "/alpha/last.scvm");
    EXPECT_FLOAT_EQ(tuned->cfg.alpha, 0.5f);
    EXPECT_FLOAT_EQ(read_model_info(d + "/alpha-ft/best.scvm").config.alpha, 0.5f);
    expect_theta(*tuned, 0.25 / tuned->net->lista->L);
    // --init with --init-alpha restarts them at A0/L (scvae-train(1), since e8d50be)
    auto restarted = one_step("alpha-ft-a0", 0.5, 1.0, d + "/alpha/last.scvm");
    EXPECT_FLOAT_EQ(restarted->cfg.alpha, 0.5f);
    expect_theta(*restarted, 1.0 / restarted->net->lista->L);

    // --init-alpha sets the starting thresholds apart from the loss weight
    auto apart = one_step("alpha-init", 0.25, 1.0, "");
    EXPECT_FLOAT_EQ(apart->cfg.alpha, 0.25f);
    expect_theta(*apart, 1.0 / apart->net->lista->L);
}

// The VQ latent's EMA codebook is a buffer moved outside the optimiser: the ranks average their batch
// statistics, so the replicas (weights and codebooks) stay equal.
TEST(Train, TwoRanksKeepTheVQEmaCodebooksEqual) {
    const std::string d = images_dir();
    fs::remove_all(d + "/vq");
    TrainOptions o = tiny_options(d + "/vq");
    o.config_overrides = {{"latent", "vq"}, {"ema_decay", 0.9}};
    o.steps = 3;
    o.seed = 4;
    ASSERT_TRUE(train_two_ranks(o, 27000, d + "/vq-rank{rank}.scvm"));
    auto a = load_model_file(d + "/vq-rank0.scvm", torch::kCPU), b = load_model_file(d + "/vq-rank1.scvm", torch::kCPU);
    EXPECT_EQ(a->fingerprint, b->fingerprint) << "the replicas (weights or EMA codebooks) diverged";
    ASSERT_TRUE(a->cfg.vq());
    // the EMA moved the codebook away from its initial U(-1/K, 1/K) values
    auto init = Codec::init(a->cfg, 4);
    EXPECT_GT((a->net->vq->codebook - init.impl().net->vq->codebook).abs().max().item<double>(), 1e-3);
}
