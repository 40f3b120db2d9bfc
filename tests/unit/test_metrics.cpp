// Unit tests of scvae/metrics.h against scikit-image/scipy reference values (tests/data/metrics/*.json,
// made once by tests/data/metrics/make_reference.py) and hand-computed values.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "scvae/error.h"
#include "scvae/metrics.h"

using scvae::Image;

namespace {

nlohmann::json load_json(const std::string& rel) {
    std::ifstream f(std::string(SCVAE_TEST_DATA) + "/metrics/" + rel);
    if (!f) throw std::runtime_error("cannot open " + rel);
    return nlohmann::json::parse(f);
}

Image from_ints(int h, int w, int c, const std::vector<int>& v) {
    Image im;
    im.width = w;
    im.height = h;
    im.channels = c;
    im.data.resize(v.size());
    for (size_t i = 0; i < v.size(); ++i) im.data[i] = static_cast<float>(v[i] / 255.0);
    return im;
}

// The integer formulas of make_reference.py.
std::vector<int> pattern_a(int h, int w, int c) {
    std::vector<int> v;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int ch = 0; ch < c; ++ch) v.push_back((x * x * 3 + y * 7 + ch * 50 + ((x * y) % 23) * 4) % 256);
    return v;
}
std::vector<int> smooth_a(int h, int w, int c) {
    std::vector<int> v;
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int ch = 0; ch < c; ++ch) v.push_back((x * 2 + y * 3 + ch * 40 + ((x / 8 + y / 8) % 3) * 30) % 256);
    return v;
}
std::vector<int> pattern_b(const std::vector<int>& a, int h, int w, int c) {
    std::vector<int> v(a.size());
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int ch = 0; ch < c; ++ch) {
                const size_t i = (static_cast<size_t>(y) * w + x) * c + ch;
                v[i] = std::min(255, std::max(0, a[i] + ((x * 13 + y * 29 + ch * 7) % 41) - 20));
            }
    return v;
}

}  // namespace

TEST(Metrics, MatchesScikitImageReference) {
    const auto ref = load_json("ssim_reference.json");
    ASSERT_EQ(ref["images"].size(), 4u);
    for (const auto& e : ref["images"]) {
        const std::string name = e["name"];
        const int h = e["height"], w = e["width"], c = e["channels"];
        const auto a = name.rfind("smooth", 0) == 0 ? smooth_a(h, w, c) : pattern_a(h, w, c);
        const Image A = from_ints(h, w, c, a), B = from_ints(h, w, c, pattern_b(a, h, w, c));
        SCOPED_TRACE(name);
        // Pixels are float32 k/255, so MSE agrees to float32 precision (relative 1e-6).
        EXPECT_NEAR(scvae::mse(A, B), e["mse"].get<double>(), 1e-6 * e["mse"].get<double>());
        EXPECT_NEAR(scvae::psnr(A, B), e["psnr"].get<double>(), 1e-6);
        EXPECT_NEAR(scvae::ssim(A, B), e["ssim"].get<double>(), 1e-6);  // issue asks for 1e-4
        int scales = 0;
        EXPECT_NEAR(scvae::ms_ssim(A, B, &scales), e["ms_ssim"].get<double>(), 1e-6);
        EXPECT_EQ(scales, e["ms_ssim_scales"].get<int>());
        EXPECT_EQ(scvae::ms_ssim_scales(w, h), e["ms_ssim_scales"].get<int>());
    }
}

TEST(Metrics, IdenticalImages) {
    const auto a = smooth_a(20, 30, 3);
    const Image A = from_ints(20, 30, 3, a);
    EXPECT_EQ(scvae::mse(A, A), 0.0);
    EXPECT_EQ(scvae::psnr(A, A), scvae::kPsnrIdentical);
    EXPECT_NEAR(scvae::ssim(A, A), 1.0, 1e-12);
    EXPECT_NEAR(scvae::ms_ssim(A, A), 1.0, 1e-12);
}

TEST(Metrics, HandComputedMseAndPsnr) {
    // Every pixel differs by 10 levels: MSE 100, PSNR 10 log10(65025/100).
    Image a = from_ints(12, 12, 1, std::vector<int>(144, 100));
    Image b = from_ints(12, 12, 1, std::vector<int>(144, 110));
    EXPECT_NEAR(scvae::mse(a, b), 100.0, 1e-4);
    EXPECT_NEAR(scvae::psnr(a, b), 10 * std::log10(65025.0 / 100.0), 1e-6);
    // Constant images: SSIM reduces to the luminance term (2*100*110 + C1)/(100^2 + 110^2 + C1).
    const double C1 = 2.55 * 2.55;
    EXPECT_NEAR(scvae::ssim(a, b), (2 * 100.0 * 110 + C1) / (100.0 * 100 + 110.0 * 110 + C1), 1e-6);
}

TEST(Metrics, ErrorsForMismatchedOrTinyImages) {
    const Image a = from_ints(12, 12, 1, std::vector<int>(144, 1));
    const Image b = from_ints(12, 13, 1, std::vector<int>(156, 1));
    const Image c = from_ints(12, 12, 3, std::vector<int>(432, 1));
    EXPECT_THROW(scvae::mse(a, b), scvae::Error);
    EXPECT_THROW(scvae::ssim(a, c), scvae::Error);
    try {
        scvae::psnr(a, b);
        FAIL();
    } catch (const scvae::Error& e) {
        EXPECT_NE(std::string(e.what()).find("differ in size (12x12x1 vs 13x12x1)"), std::string::npos) << e.what();
    }
    const Image t = from_ints(10, 12, 1, std::vector<int>(120, 1));
    EXPECT_THROW(scvae::ssim(t, t), scvae::Error);
    EXPECT_NO_THROW(scvae::mse(t, t));
    EXPECT_EQ(scvae::ms_ssim_scales(10, 400), 0);
    EXPECT_EQ(scvae::ms_ssim_scales(176, 176), 5);
    EXPECT_EQ(scvae::ms_ssim_scales(175, 1000), 4);
    EXPECT_EQ(scvae::ms_ssim_scales(22, 22), 2);
}

TEST(Metrics, HoyerSparsity) {
    const float one_hot[4] = {0, 0, -2.5f, 0};
    EXPECT_DOUBLE_EQ(scvae::hoyer_sparsity(one_hot, 4), 1.0);
    const float flat[4] = {1, -1, 1, -1};
    EXPECT_NEAR(scvae::hoyer_sparsity(flat, 4), 0.0, 1e-12);
    const float zero[4] = {0, 0, 0, 0};
    EXPECT_DOUBLE_EQ(scvae::hoyer_sparsity(zero, 4), 1.0);
    const float z[4] = {3, 4, 0, 0};  // l1 7, l2 5: (2 - 1.4) / (2 - 1) = 0.6
    EXPECT_NEAR(scvae::hoyer_sparsity(z, 4), 0.6, 1e-12);
}

TEST(Metrics, CodeStatistics) {
    scvae::CodeRecord r;
    r.fingerprint = "0123456789abcdef";
    r.K = 4;
    r.n = 4;
    r.grid_h = 1;
    r.grid_w = 3;
    r.image_width = 8;
    r.image_height = 4;
    r.source = "a.png";
    // position 0: {3,4} on atoms 0,1; position 1: empty; position 2: atom 2 only.
    r.row_ptr = {0, 2, 2, 3};
    r.indices = {0, 1, 2};
    r.values = {3, 4, -1};
    scvae::CodeStatsAccumulator acc;
    const auto rs = acc.add(r, 100);
    EXPECT_NEAR(rs.hoyer, (0.6 + 1 + 1) / 3, 1e-12);
    EXPECT_NEAR(rs.nnz_per_vector, 1.0, 1e-12);
    EXPECT_NEAR(rs.bpp, 800.0 / 32, 1e-12);
    r.source = "b.png";
    acc.add(r, 60);
    const auto s = acc.result();
    EXPECT_EQ(s.records, 2u);
    EXPECT_EQ(s.vectors, 6u);
    EXPECT_EQ(s.atoms_used, 3u);
    EXPECT_EQ(s.atom_histogram, (std::vector<uint64_t>{2, 2, 2, 0}));
    EXPECT_NEAR(s.zero_fraction, 1.0 - 6.0 / 24, 1e-12);
    EXPECT_NEAR(s.nnz_per_vector, 1.0, 1e-12);
    EXPECT_NEAR(s.hoyer_mean, 2.6 / 3, 1e-12);
    EXPECT_NEAR(s.bpp, 160.0 * 8 / 64, 1e-12);
    scvae::CodeRecord other = r;
    other.fingerprint = "fedcba9876543210";
    EXPECT_THROW(acc.add(other, 10), scvae::Error);
}

TEST(Metrics, MaskScoresMatchReference) {
    // The masks of make_reference.py: a disc in a 40x30 prediction, a rectangle (value 200) in 20x15 truth.
    std::vector<int> p, g;
    for (int y = 0; y < 30; ++y)
        for (int x = 0; x < 40; ++x) p.push_back(((x - 18) * (x - 18) + (y - 14) * (y - 14)) < 100 ? 255 : 0);
    for (int y = 0; y < 15; ++y)
        for (int x = 0; x < 20; ++x) g.push_back((x >= 5 && x < 15 && y >= 3 && y < 12) ? 200 : 0);
    const auto ref = load_json("masks/reference.json");
    const auto s = scvae::mask_scores(from_ints(30, 40, 1, p), from_ints(15, 20, 1, g));
    EXPECT_NEAR(s.iou, ref["m1"]["iou"].get<double>(), 1e-12);
    EXPECT_NEAR(s.dice, ref["m1"]["dice"].get<double>(), 1e-12);
    // Identical and empty masks.
    const Image empty = from_ints(4, 4, 1, std::vector<int>(16, 0));
    EXPECT_DOUBLE_EQ(scvae::mask_scores(empty, empty).iou, 1.0);
    const Image full = from_ints(4, 4, 1, std::vector<int>(16, 128));
    EXPECT_DOUBLE_EQ(scvae::mask_scores(full, empty).iou, 0.0);
    EXPECT_DOUBLE_EQ(scvae::mask_scores(full, full).dice, 1.0);
    // 127 is background, 128 foreground.
    const Image almost = from_ints(4, 4, 1, std::vector<int>(16, 127));
    EXPECT_DOUBLE_EQ(scvae::mask_scores(almost, full).iou, 0.0);
}

TEST(Metrics, SymmetricEigen) {
    std::mt19937 rng(7);
    std::normal_distribution<double> nd;
    for (size_t n : {1u, 2u, 5u, 17u}) {
        std::vector<double> a(n * n);
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j <= i; ++j) a[i * n + j] = a[j * n + i] = nd(rng);
        std::vector<double> v;
        const auto d = scvae::symmetric_eigen(a, n, &v);
        for (size_t i = 1; i < n; ++i) EXPECT_LE(d[i - 1], d[i]);
        for (size_t i = 0; i < n; ++i)
            for (size_t j = 0; j < n; ++j) {
                double s = 0;
                for (size_t k = 0; k < n; ++k) s += v[i * n + k] * d[k] * v[j * n + k];
                EXPECT_NEAR(s, a[i * n + j], 1e-10);
            }
    }
    // Known: [[2,1],[1,2]] has eigenvalues 1 and 3; sqrt of diag(4,9) is diag(2,3).
    const auto d = scvae::symmetric_eigen({2, 1, 1, 2}, 2, nullptr);
    EXPECT_NEAR(d[0], 1, 1e-14);
    EXPECT_NEAR(d[1], 3, 1e-14);
    const auto r = scvae::sqrt_psd({4, 0, 0, 9}, 2);
    EXPECT_NEAR(r[0], 2, 1e-14);
    EXPECT_NEAR(r[3], 3, 1e-14);
    EXPECT_NEAR(r[1], 0, 1e-14);
}

TEST(Metrics, FrechetDistanceMatchesScipyReference) {
    const auto ref = load_json("fid_reference.json");
    ASSERT_EQ(ref["cases"].size(), 3u);
    for (const auto& c : ref["cases"]) {
        auto stats = [](const nlohmann::json& rows) {
            const size_t n = rows.size(), d = rows[0].size();
            std::vector<double> f;
            for (const auto& r : rows)
                for (const auto& v : r) f.push_back(v.get<double>());
            return scvae::feature_statistics(f, n, d);
        };
        const double fid = scvae::frechet_distance(stats(c["features1"]), stats(c["features2"]));
        const double want = c["fid"].get<double>();
        // scipy's sqrtm leaves ~1e-8 of rounding noise on singular covariances (the identical-set case gives
        // -4.5e-8 there); we drop numerically zero eigenvalues, so compare to 1e-7 absolute + 1e-9 relative.
        EXPECT_NEAR(fid, want, 1e-7 + 1e-9 * std::fabs(want));
        if (c["features1"] == c["features2"]) {
            EXPECT_NEAR(fid, 0.0, 1e-12);
        }
    }
}

TEST(Metrics, FrechetDistanceClosedForms) {
    // 1-D: (mu1-mu2)^2 + (s1-s2)^2 with sample standard deviations.
    const std::vector<double> f1{1, 2, 3, 4}, f2{0, 4, 8};
    const auto g1 = scvae::feature_statistics(f1, 4, 1), g2 = scvae::feature_statistics(f2, 3, 1);
    EXPECT_NEAR(g1.cov[0], 5.0 / 3, 1e-14);
    EXPECT_NEAR(g2.cov[0], 16.0, 1e-14);
    const double s1 = std::sqrt(5.0 / 3), s2 = 4.0;
    EXPECT_NEAR(scvae::frechet_distance(g1, g2), (2.5 - 4) * (2.5 - 4) + (s1 - s2) * (s1 - s2), 1e-12);
    // Diagonal covariances: sum over dimensions of the 1-D formula.
    scvae::Gaussian a, b;
    a.dim = b.dim = 3;
    a.mean = {0, 1, 2};
    b.mean = {1, 1, 0};
    a.cov = {4, 0, 0, 0, 1, 0, 0, 0, 0.25};
    b.cov = {1, 0, 0, 0, 9, 0, 0, 0, 0};  // singular
    const double want = (1 + 0 + 4) + (2 - 1) * (2 - 1) + (1 - 3) * (1 - 3) + (0.5 - 0) * (0.5 - 0);
    EXPECT_NEAR(scvae::frechet_distance(a, b), want, 1e-12);
    EXPECT_NEAR(scvae::frechet_distance(a, a), 0.0, 1e-12);
    EXPECT_THROW(scvae::feature_statistics({1, 2}, 1, 2), scvae::Error);
    scvae::Gaussian c = a;
    c.dim = 2;
    EXPECT_THROW(scvae::frechet_distance(a, c), scvae::Error);
}

TEST(Metrics, MeanStd) {
    const auto m = scvae::mean_std({1, 2, 3, 4});
    EXPECT_DOUBLE_EQ(m.mean, 2.5);
    EXPECT_NEAR(m.std, std::sqrt(1.25), 1e-15);
}

TEST(CodeStats, AtomHistogramEntropyAndDeadAtoms) {
    EXPECT_DOUBLE_EQ(scvae::histogram_entropy_bits({}), 0.0);
    EXPECT_DOUBLE_EQ(scvae::histogram_entropy_bits({0, 7, 0}), 0.0);       // one atom: no uncertainty
    EXPECT_NEAR(scvae::histogram_entropy_bits({5, 5, 5, 5}), 2.0, 1e-12);  // four equally used atoms: 2 bits
    EXPECT_NEAR(scvae::histogram_entropy_bits({3, 1, 0, 0}), 0.811278124459, 1e-9);
}
