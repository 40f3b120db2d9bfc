// Unit tests of scvae/perceptual.h with small TorchScript modules built here (torch::jit::Module::define),
// since no PyTorch is available to export real LPIPS/Inception networks.
//
// With SCVAE_WRITE_TORCHSCRIPT_FIXTURES=DIR set, the modules are also saved to DIR (this is how
// tests/data/metrics/{lpips-l1,fid-meanstd,fid-spatial}.pt were made, for tests/cli/metrics.bats).
#include <gtest/gtest.h>
#include <torch/script.h>

#include <cstdlib>
#include <filesystem>

#include "scvae/error.h"
#include "scvae/metrics.h"
#include "scvae/perceptual.h"

using scvae::Image;
using scvae::PerceptualNet;

namespace {

const char* kLpipsL1 = R"(
def forward(self, x, y):
    return (x - y).abs().mean().reshape([1, 1, 1, 1])
)";
// Per-channel mean and standard deviation: [1, 6].
const char* kFidMeanStd = R"(
def forward(self, x):
    m = x.mean(dim=[2, 3])
    s = x.std(dim=[2, 3])
    return torch.cat([m, s], dim=1)
)";
// Not pooled: [1, 3, 4, 4].
const char* kFidSpatial = R"(
def forward(self, x):
    return torch.adaptive_avg_pool2d(x, [4, 4])
)";
const char* kLpipsTwoNumbers = R"(
def forward(self, x, y):
    return torch.stack([(x - y).abs().mean(), (x - y).abs().max()])
)";

std::string save_module(const std::string& name, const char* src) {
    std::string cls = name;
    for (auto& c : cls)
        if (c == '-') c = '_';
    torch::jit::Module m(cls);
    m.define(src);
    const auto dir = std::filesystem::temp_directory_path() / ("scvae-perceptual-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / (name + ".pt")).string();
    m.save(path);
    if (const char* out = std::getenv("SCVAE_WRITE_TORCHSCRIPT_FIXTURES")) m.save(std::string(out) + "/" + name + ".pt");
    return path;
}

Image ramp(int w, int h, int c, float offset) {
    Image im;
    im.width = w;
    im.height = h;
    im.channels = c;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int k = 0; k < c; ++k)
                im.data.push_back(std::min(1.0f, std::max(0.0f, offset + 0.01f * x + 0.02f * y + 0.1f * k)));
    return im;
}

}  // namespace

TEST(Perceptual, LpipsStyleDistance) {
    auto net = PerceptualNet::load(save_module("lpips-l1", kLpipsL1), PerceptualNet::Kind::Lpips);
    const Image a = ramp(16, 12, 3, 0.0f), b = ramp(16, 12, 3, 0.0f);
    EXPECT_NEAR(net.distance(a, b), 0.0, 1e-7);
    // A constant shift of 0.1 on [0,1] (no clipping: max value 0.15+0.22+0.2 < 1) is 0.2 on [-1,1].
    Image c = a;
    for (auto& v : c.data) v += 0.1f;
    EXPECT_NEAR(net.distance(a, c), 0.2, 1e-5);
    // Gray images are converted to RGB.
    EXPECT_NEAR(net.distance(ramp(8, 8, 1, 0.2f), ramp(8, 8, 1, 0.2f)), 0.0, 1e-7);
}

TEST(Perceptual, FeaturesAndFid) {
    auto net = PerceptualNet::load(save_module("fid-meanstd", kFidMeanStd), PerceptualNet::Kind::Features);
    const auto f = net.features(ramp(10, 10, 3, 0.0f));
    ASSERT_EQ(f.size(), 6u);
    // Channel 0 mean: 0.01*4.5 + 0.02*4.5 = 0.135.
    EXPECT_NEAR(f[0], 0.135, 1e-6);
    EXPECT_NEAR(f[1], 0.235, 1e-6);
    // FID of a set with itself is 0; shifted sets are apart.
    std::vector<double> fa, fb;
    for (int i = 0; i < 4; ++i) {
        auto x = net.features(ramp(10 + i, 10, 3, 0.05f * i));
        auto y = net.features(ramp(10 + i, 10, 3, 0.05f * i + 0.3f));
        fa.insert(fa.end(), x.begin(), x.end());
        fb.insert(fb.end(), y.begin(), y.end());
    }
    const auto ga = scvae::feature_statistics(fa, 4, 6), gb = scvae::feature_statistics(fb, 4, 6);
    EXPECT_NEAR(scvae::frechet_distance(ga, ga), 0.0, 1e-9);
    EXPECT_GT(scvae::frechet_distance(ga, gb), 0.2);
}

TEST(Perceptual, WrongShapesAndFilesAreClearErrors) {
    auto spatial = PerceptualNet::load(save_module("fid-spatial", kFidSpatial), PerceptualNet::Kind::Features);
    try {
        spatial.features(ramp(8, 8, 3, 0));
        FAIL();
    } catch (const scvae::Error& e) {
        EXPECT_NE(std::string(e.what()).find("output shape [1, 3, 4, 4] is not [1, D] or [1, D, 1, 1]"),
                  std::string::npos)
            << e.what();
    }
    auto two = PerceptualNet::load(save_module("lpips-two", kLpipsTwoNumbers), PerceptualNet::Kind::Lpips);
    try {
        two.distance(ramp(8, 8, 3, 0), ramp(8, 8, 3, 0));
        FAIL();
    } catch (const scvae::Error& e) {
        EXPECT_NE(std::string(e.what()).find("output shape [2] is not one number per pair"), std::string::npos)
            << e.what();
    }
    // A feature network used as LPIPS gets two inputs and fails with the network's message.
    auto meanstd = PerceptualNet::load(save_module("fid-meanstd", kFidMeanStd), PerceptualNet::Kind::Lpips);
    EXPECT_THROW(meanstd.distance(ramp(8, 8, 3, 0), ramp(8, 8, 3, 0)), scvae::Error);
    EXPECT_THROW(PerceptualNet::load("/nonexistent/net.pt", PerceptualNet::Kind::Lpips), scvae::Error);
}
