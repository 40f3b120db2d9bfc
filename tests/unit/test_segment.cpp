// Unit tests for scvae/segment.h: boundary connectivity, foreground rule, spectral embedding, segmentation of
// hand-made code grids whose answer is known, label/mask images, noise.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <algorithm>

#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/segment.h"

using namespace scvae;

namespace {

// A grid_h x grid_w record with K=16 whose cells inside [r0,r1) x [c0,c1) hold `inner` codes (varying a little
// from cell to cell) and every other cell the same `outer` code.
CodeRecord blob_record(int gh, int gw, int r0, int r1, int c0, int c1, int d = 2) {
    const uint32_t K = 16;
    std::vector<float> dense(static_cast<size_t>(gh) * gw * K, 0.0f);
    for (int r = 0; r < gh; ++r)
        for (int c = 0; c < gw; ++c) {
            float* v = dense.data() + (static_cast<size_t>(r) * gw + c) * K;
            if (r >= r0 && r < r1 && c >= c0 && c < c1) {
                v[5] = 2.0f + 0.05f * static_cast<float>(r);
                v[9] = -1.0f + 0.05f * static_cast<float>(c);
            } else {
                v[0] = 1.0f;
                v[1] = 0.5f;
            }
        }
    CodeRecord rec;
    rec.fingerprint = "00000000deadbeef";
    rec.n = 16;
    rec.K = K;
    rec.d = static_cast<uint32_t>(d);
    rec.source = "blob.png";
    rec.grid_h = static_cast<uint32_t>(gh);
    rec.grid_w = static_cast<uint32_t>(gw);
    rec.image_width = static_cast<uint32_t>(gw << d) - 2;
    rec.image_height = static_cast<uint32_t>(gh << d) - 3;
    rec.pad_right = 2;
    rec.pad_bottom = 3;
    rec.set_dense(dense.data(), rec.positions(), K);
    return rec;
}

}  // namespace

TEST(BoundaryConnectivity, UniformGrid) {
    std::vector<int> l(16, 0);
    auto b = boundary_connectivity(l, 4, 4, 2);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_DOUBLE_EQ(b[0], 12.0 / 4.0);  // 12 border cells, area 16
    EXPECT_DOUBLE_EQ(b[1], 0.0);         // empty class
}

TEST(BoundaryConnectivity, CentreBlobAndBorderObject) {
    // 6x6: class 1 is the centre 2x2, class 2 touches the bottom border along 3 cells (area 3).
    std::vector<int> l(36, 0);
    for (int r = 2; r < 4; ++r)
        for (int c = 2; c < 4; ++c) l[r * 6 + c] = 1;
    for (int c = 1; c < 4; ++c) l[5 * 6 + c] = 2;
    auto b = boundary_connectivity(l, 6, 6, 3);
    EXPECT_DOUBLE_EQ(b[0], 17.0 / std::sqrt(29.0));  // 20 border cells minus 3, area 36-4-3
    EXPECT_DOUBLE_EQ(b[1], 0.0);
    EXPECT_DOUBLE_EQ(b[2], 3.0 / std::sqrt(3.0));
    EXPECT_THROW(boundary_connectivity(l, 5, 6, 3), Error);  // wrong size
    l[0] = 7;
    EXPECT_THROW(boundary_connectivity(l, 6, 6, 3), Error);  // label out of range
}

TEST(ForegroundRule, HighestIsBackgroundThresholdForOthers) {
    EXPECT_EQ(foreground_classes({3.5, 0.0}, {30, 6}), (std::vector<uint8_t>{0, 1}));
    EXPECT_EQ(foreground_classes({0.0, 3.5}, {6, 30}), (std::vector<uint8_t>{1, 0}));
    // A second border-heavy class (BndCon 1.73 > 1.18) is background too; a low one is foreground.
    EXPECT_EQ(foreground_classes({3.5, 1.732, 0.5}, {20, 3, 13}), (std::vector<uint8_t>{0, 0, 1}));
    EXPECT_EQ(foreground_classes({3.5, 1.732, 0.5}, {20, 3, 13}, 2.0), (std::vector<uint8_t>{0, 1, 1}));
    // Two classes both well connected to the border: the lower one is still the foreground.
    EXPECT_EQ(foreground_classes({3.0, 2.5}, {452, 572}), (std::vector<uint8_t>{0, 1}));
    // The lowest class is foreground even above the threshold; the middle one follows the threshold.
    EXPECT_EQ(foreground_classes({3.0, 2.0, 1.5}, {10, 10, 10}), (std::vector<uint8_t>{0, 0, 1}));
    // One non-empty class: nothing is foreground.
    EXPECT_EQ(foreground_classes({3.0, 0.0, 0.0}, {16, 0, 0}), (std::vector<uint8_t>{0, 0, 0}));
    // An empty class is never foreground.
    EXPECT_EQ(foreground_classes({3.0, 0.0}, {16, 0}), (std::vector<uint8_t>{0, 0}));
}

TEST(FinishSegmentation, RenumbersByBndConAndBuildsMask) {
    // The clusterer called the centre blob 0 and the surround 1: after renumbering the background is 0.
    std::vector<int> l(36, 1);
    for (int r = 2; r < 4; ++r)
        for (int c = 2; c < 4; ++c) l[r * 6 + c] = 0;
    Segmentation s = finish_segmentation(l, 6, 6, 2, SegmentMethod::Spectral);
    EXPECT_EQ(s.labels[0], 0);
    EXPECT_EQ(s.labels[2 * 6 + 2], 1);
    EXPECT_EQ(s.class_sizes, (std::vector<size_t>{32, 4}));
    EXPECT_EQ(s.foreground, (std::vector<uint8_t>{0, 1}));
    EXPECT_EQ(s.mask[2 * 6 + 3], 1);
    EXPECT_EQ(s.mask[5 * 6 + 5], 0);
    EXPECT_DOUBLE_EQ(s.foreground_fraction, 4.0 / 36.0);
}

TEST(SpectralEmbedding, TwoGroupsSeparate) {
    // 10 points near (0,0,1) and 6 near (3,3,0): rows of a group agree, the groups are orthogonal-ish.
    std::vector<float> x;
    for (int i = 0; i < 16; ++i) {
        float e = 0.01f * static_cast<float>(i % 3);
        if (i < 10) x.insert(x.end(), {e, 0.f, 1.f});
        else x.insert(x.end(), {3.f + e, 3.f, 0.f});
    }
    std::vector<float> E = spectral_embedding(x.data(), 16, 3, 2);
    ASSERT_EQ(E.size(), 32u);
    auto dot = [&](int a, int b) { return E[a * 2] * E[b * 2] + E[a * 2 + 1] * E[b * 2 + 1]; };
    for (int i = 0; i < 16; ++i) EXPECT_NEAR(dot(i, i), 1.0, 1e-4);  // row-normalised
    for (int i = 1; i < 10; ++i) EXPECT_GT(dot(0, i), 0.99);
    for (int i = 11; i < 16; ++i) EXPECT_GT(dot(10, i), 0.99);
    EXPECT_LT(std::fabs(dot(0, 10)), 0.2);
    EXPECT_THROW(spectral_embedding(x.data(), 16, 3, 17), Error);
}

TEST(SpectralEmbedding, BandwidthSetsWhichGroupSeparates) {
    // On a line: 25 points near 0 (A), 25 near 1 (B), 10 near 2.5 (C). The median distance is about 1.5.
    // A narrow kernel (the default, 0.25 x the median) links A and B weakly but C not at all: the two leading
    // eigenvectors put C alone, A and B together. As wide as the median (scvae 0.1's kernel), the rows of B and
    // C still share a direction and A leans away from B.
    std::vector<float> x;
    for (int i = 0; i < 60; ++i) x.push_back((i < 25 ? 0.f : i < 50 ? 1.f : 2.5f) + 0.05f * static_cast<float>(i % 5));
    auto rows = [&](const std::vector<float>& E, int a, int b) { return E[a * 2] * E[b * 2] + E[a * 2 + 1] * E[b * 2 + 1]; };
    std::vector<float> narrow = spectral_embedding(x.data(), 60, 1, 2);
    EXPECT_EQ(narrow, spectral_embedding(x.data(), 60, 1, 2, SpectralSolver::Auto, kDefaultSpectralBandwidth));
    EXPECT_GT(rows(narrow, 0, 25), 0.99);
    EXPECT_LT(std::fabs(rows(narrow, 0, 50)), 0.05);
    EXPECT_LT(std::fabs(rows(narrow, 25, 50)), 0.05);
    std::vector<float> wide = spectral_embedding(x.data(), 60, 1, 2, SpectralSolver::Auto, 1.0);
    EXPECT_LT(rows(wide, 0, 25), 0.9);
    EXPECT_GT(rows(wide, 25, 50), 0.2);
    for (double bad : {0.0, -1.0, std::nan(""), HUGE_VAL})
        EXPECT_THROW(spectral_embedding(x.data(), 60, 1, 2, SpectralSolver::Auto, bad), Error) << bad;
}

TEST(SpectralEmbedding, ACellFarFromAllOthersKeepsTheEmbeddingFinite) {
    // 39 points at 0 and one at 1: the median distance is 0, so s = bandwidth x the mean (1/20); with bandwidth
    // 0.527 the far point's affinities are exp(-720), about 1e-313, and so is its degree: 1/sqrt(deg) squared
    // overflows, which once turned its (zero) diagonal entry into NaN and failed the eigendecomposition.
    std::vector<float> x(40, 0.f);
    x[39] = 1.f;
    for (auto solver : {SpectralSolver::Dense, SpectralSolver::Subspace}) {
        std::vector<float> e = spectral_embedding(x.data(), 40, 1, 2, solver, 0.527);
        ASSERT_EQ(e.size(), 80u);
        for (float v : e) ASSERT_TRUE(std::isfinite(v));
        // A width so small that 2 s^2 underflows: W takes its limit (1 between equal points, else 0), no NaN.
        e = spectral_embedding(x.data(), 40, 1, 2, solver, 1e-300);
        ASSERT_EQ(e.size(), 80u);
        for (float v : e) ASSERT_TRUE(std::isfinite(v));
    }
}

// Points around `groups` random centres in `dim` dimensions (fixed seed), n in all.
static std::vector<float> blobs(size_t n, size_t dim, int groups, float spread, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> centres(static_cast<size_t>(groups) * dim), x(n * dim);
    for (float& c : centres) c = 3.f * u(gen);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = 0; j < dim; ++j) x[i * dim + j] = centres[(i % groups) * dim + j] + spread * u(gen);
    return x;
}

TEST(SpectralEmbedding, SubspaceIterationAgreesWithDenseEigendecomposition) {
    // 1,100 points (above kSpectralSubspaceMinCells, so Auto iterates) in 4 overlapping groups.
    const size_t n = 1100, dim = 24;
    std::vector<float> x = blobs(n, dim, 4, 1.5f, 7);
    // The default narrow kernel (eigenvalues near 1, slow for a plain power step) and a wide one.
    for (double bw : {kDefaultSpectralBandwidth, 1.0})
    for (int dims : {2, 3, 4}) {
        SpectralStats st;
        std::vector<float> it = spectral_embedding(x.data(), n, dim, dims, SpectralSolver::Subspace, bw, &st);
        // the iteration itself answered (no fallback to the dense path), in a few dozen products
        EXPECT_TRUE(st.iterated) << "dims " << dims << " bandwidth " << bw;
        EXPECT_LE(st.products, 60) << "dims " << dims << " bandwidth " << bw;
        std::vector<float> dense = spectral_embedding(x.data(), n, dim, dims, SpectralSolver::Dense, bw);
        std::vector<float> autosel = spectral_embedding(x.data(), n, dim, dims, SpectralSolver::Auto, bw);
        ASSERT_EQ(it.size(), n * dims);
        ASSERT_EQ(dense.size(), n * dims);
        double worst = 0, auto_worst = 0;
        for (size_t i = 0; i < it.size(); ++i) {
            worst = std::max(worst, double(std::fabs(it[i] - dense[i])));
            auto_worst = std::max(auto_worst, double(std::fabs(autosel[i] - it[i])));
        }
        EXPECT_LT(worst, 1e-5) << "dims " << dims << " bandwidth " << bw;
        EXPECT_EQ(auto_worst, 0.0) << "dims " << dims << " bandwidth " << bw;
        // rows of unit length, every eigenvector's largest-magnitude entry positive
        for (size_t i = 0; i < n; ++i) {
            double r = 0;
            for (int c = 0; c < dims; ++c) r += double(it[i * dims + c]) * it[i * dims + c];
            ASSERT_NEAR(r, 1.0, 1e-5);
        }
        for (int c = 0; c < dims; ++c) {
            size_t arg = 0;
            for (size_t i = 1; i < n; ++i)
                if (std::fabs(it[i * dims + c]) > std::fabs(it[arg * dims + c])) arg = i;
            EXPECT_GT(it[arg * dims + c], 0.f);
        }
    }
}

TEST(SpectralEmbedding, IdenticalPointsGiveAnEmbeddingWithEitherSolver) {
    // All distances 0: W = 1 off the diagonal, and every eigenvalue but the largest is the same.
    const size_t n = 40, dim = 3;
    std::vector<float> x(n * dim, 0.5f);
    for (auto solver : {SpectralSolver::Dense, SpectralSolver::Subspace}) {
        std::vector<float> e = spectral_embedding(x.data(), n, dim, 2, solver);
        ASSERT_EQ(e.size(), n * 2);
        for (size_t i = 0; i < n; ++i) {
            ASSERT_TRUE(std::isfinite(e[i * 2]) && std::isfinite(e[i * 2 + 1]));
            EXPECT_NEAR(double(e[i * 2]) * e[i * 2] + double(e[i * 2 + 1]) * e[i * 2 + 1], 1.0, 1e-5);
        }
    }
}

TEST(SegmentCodes, UsedAtomPointsHaveOneColumnPerUsedAtomInOrderOfFirstUse) {
    // 3x3 grid: atoms 0 and 1 outside the blob (rows 0 and 2 and more), 5 and 9 inside (row 1, columns 1..2).
    CodeRecord rec = blob_record(3, 3, 1, 2, 1, 3);
    size_t dim = 0;
    std::vector<float> x = used_atom_points(rec, &dim);
    ASSERT_EQ(dim, 4u);  // of K = 16
    ASSERT_EQ(x.size(), 9u * 4u);
    EXPECT_EQ((std::vector<float>(x.begin(), x.begin() + 4)), (std::vector<float>{1.f, 0.5f, 0.f, 0.f}));
    const float* inside = x.data() + (1 * 3 + 1) * 4;  // row 1, column 1: atoms 5 and 9 -> columns 2 and 3
    EXPECT_EQ(inside[0], 0.f);
    EXPECT_FLOAT_EQ(inside[2], 2.05f);
    EXPECT_FLOAT_EQ(inside[3], -0.95f);
}

TEST(SegmentCodes, CentreBlobIsForegroundSpectral) {
    CodeRecord rec = blob_record(8, 8, 2, 6, 3, 6);
    SegmentOptions o;
    o.method = SegmentMethod::Spectral;
    o.k = 2;
    Segmentation s = segment_codes(rec, o);
    ASSERT_EQ(s.labels.size(), 64u);
    for (int r = 0; r < 8; ++r)
        for (int c = 0; c < 8; ++c) {
            bool inside = r >= 2 && r < 6 && c >= 3 && c < 6;
            EXPECT_EQ(s.mask[r * 8 + c], inside ? 1 : 0) << r << "," << c;
        }
    EXPECT_EQ(s.class_sizes, (std::vector<size_t>{52, 12}));
    EXPECT_DOUBLE_EQ(s.bndcon[0], 28.0 / std::sqrt(52.0));
    EXPECT_DOUBLE_EQ(s.bndcon[1], 0.0);
    // Image-size outputs: the grid cell (r,c) covers 4x4 pixels, the padding is cut off.
    Image m = mask_image(s, rec);
    EXPECT_EQ(m.width, 30);
    EXPECT_EQ(m.height, 29);
    EXPECT_EQ(m.channels, 1);
    EXPECT_FLOAT_EQ(m.at(2 * 4, 3 * 4, 0), 1.0f);
    EXPECT_FLOAT_EQ(m.at(2 * 4 - 1, 3 * 4, 0), 0.0f);
    EXPECT_FLOAT_EQ(m.at(0, 0, 0), 0.0f);
    Image lm = label_map_image(s, rec);
    EXPECT_FLOAT_EQ(lm.at(10, 14, 0) * 255.0f, 1.0f);
    EXPECT_FLOAT_EQ(lm.at(28, 29, 0), 0.0f);
    auto j = segmentation_summary(s, rec, 3);
    EXPECT_EQ(j["index"], 3);
    EXPECT_EQ(j["method"], "spectral");
    EXPECT_EQ(j["foreground_classes"], nlohmann::json::array({1}));
}

TEST(SegmentCodes, KMeansFindsTheBlobToo) {
    CodeRecord rec = blob_record(8, 8, 1, 4, 1, 5);
    SegmentOptions o;
    o.method = SegmentMethod::KMeans;
    o.k = 2;
    Segmentation s = segment_codes(rec, o);
    for (int r = 0; r < 8; ++r)
        for (int c = 0; c < 8; ++c) EXPECT_EQ(s.mask[r * 8 + c], (r >= 1 && r < 4 && c >= 1 && c < 5) ? 1 : 0);
    o.k = 65;
    EXPECT_THROW(segment_codes(rec, o), Error);
}

TEST(SegmentCodes, ImagesOfHostileRecordsAreRefusedNotReadOutOfBounds) {
    // d >= 32 once made the pixel->cell shift undefined and read far outside the label array.
    CodeRecord rec = blob_record(8, 8, 1, 4, 1, 5);
    SegmentOptions o;
    o.method = SegmentMethod::KMeans;
    o.k = 2;
    Segmentation s = segment_codes(rec, o);
    EXPECT_EQ(label_map_image(s, rec).width, static_cast<int>(rec.image_width));
    for (uint32_t d : {17u, 32u, 64u}) {
        CodeRecord bad = rec;
        bad.d = d;
        bad.image_width = 1;
        bad.image_height = 10000000;
        EXPECT_THROW(label_map_image(s, bad), Error) << d;
        EXPECT_THROW(mask_image(s, bad), Error) << d;
    }
}

TEST(SegmentCodes, SpectralThreeClasses) {
    // Border code, a centre blob and a second distinct blob: three classes, both blobs foreground.
    CodeRecord rec = blob_record(10, 10, 2, 5, 2, 5);
    std::vector<float> dense = rec.dense_matrix();
    for (int r = 6; r < 9; ++r)
        for (int c = 5; c < 8; ++c) {
            float* v = dense.data() + (static_cast<size_t>(r) * 10 + c) * 16;
            std::fill(v, v + 16, 0.0f);
            v[12] = 3.0f;
        }
    rec.set_dense(dense.data(), rec.positions(), 16);
    SegmentOptions o;
    o.method = SegmentMethod::Spectral;
    o.k = 3;
    Segmentation s = segment_codes(rec, o);
    EXPECT_EQ(s.foreground, (std::vector<uint8_t>{0, 1, 1}));
    EXPECT_EQ(s.mask[3 * 10 + 3], 1);
    EXPECT_EQ(s.mask[7 * 10 + 6], 1);
    EXPECT_EQ(s.mask[0], 0);
    EXPECT_NE(s.labels[3 * 10 + 3], s.labels[7 * 10 + 6]);
    EXPECT_DOUBLE_EQ(s.foreground_fraction, 18.0 / 100.0);
}

TEST(Noise, DeterministicClippedAndScaled) {
    Image img;
    img.width = 100;
    img.height = 100;
    img.channels = 4;
    img.data.assign(img.pixels() * 4, 0.5f);
    Image a = img, b = img;
    add_gaussian_noise(a, 0.1, 5);
    add_gaussian_noise(b, 0.1, 5);
    EXPECT_EQ(a.data, b.data);
    double s = 0, s2 = 0;
    for (size_t p = 0; p < a.pixels(); ++p) {
        EXPECT_EQ(a.data[p * 4 + 3], 0.5f);  // alpha untouched
        for (int c = 0; c < 3; ++c) {
            double v = a.data[p * 4 + c] - 0.5;
            s += v;
            s2 += v * v;
        }
    }
    double n = 3.0 * static_cast<double>(a.pixels());
    EXPECT_NEAR(s / n, 0.0, 0.01);
    EXPECT_NEAR(std::sqrt(s2 / n), 0.1, 0.01);
    Image c = img;
    add_gaussian_noise(c, 5.0, 1);
    for (float v : c.data) {
        EXPECT_GE(v, 0.f);
        EXPECT_LE(v, 1.f);
    }
    Image d = img;
    add_gaussian_noise(d, 0.0, 1);
    EXPECT_EQ(d.data, img.data);
}

TEST(Method, Parse) {
    EXPECT_EQ(parse_segment_method("kmeans"), SegmentMethod::KMeans);
    EXPECT_EQ(parse_segment_method("spectral"), SegmentMethod::Spectral);
    EXPECT_THROW(parse_segment_method("watershed"), InvalidArgument);
}

TEST(Segment, ClassPaletteIsDistinctAndWritesAPalettePng) {
    const std::vector<uint8_t> p = class_palette(40);
    ASSERT_EQ(p.size(), 120u);
    EXPECT_EQ(p[0], 31);  // tab10 blue first
    EXPECT_EQ(p[1], 119);
    EXPECT_EQ(p[2], 180);
    for (size_t a = 0; a < 40; ++a)
        for (size_t b = a + 1; b < 40; ++b)
            EXPECT_FALSE(p[3 * a] == p[3 * b] && p[3 * a + 1] == p[3 * b + 1] && p[3 * a + 2] == p[3 * b + 2])
                << a << " " << b;
    EXPECT_THROW(class_palette(0), Error);
    EXPECT_THROW(class_palette(257), Error);
    // a 1-channel image of indices 0..2 with a 3-colour palette: colour type 3, read back as the colours
    Image lm;
    lm.width = 3;
    lm.height = 2;
    lm.channels = 1;
    lm.data = {0, 1 / 255.0f, 2 / 255.0f, 2 / 255.0f, 1 / 255.0f, 0};
    WriteOptions wo;
    wo.png_palette = class_palette(3);
    const std::vector<uint8_t> png = encode_image(lm, ImageFormat::PNG, wo);
    ASSERT_GT(png.size(), 26u);
    EXPECT_EQ(png[24], 8);  // bit depth
    EXPECT_EQ(png[25], 3);  // colour type: palette
    const Image back = decode_image(png.data(), png.size(), "lm.png");
    ASSERT_EQ(back.channels, 3);
    for (int i = 0; i < 6; ++i) {
        const int c = static_cast<int>(std::lround(lm.data[i] * 255));
        for (int ch = 0; ch < 3; ++ch)
            EXPECT_NEAR(back.data[i * 3 + ch], wo.png_palette[c * 3 + ch] / 255.0f, 1e-6) << i;
    }
    // an index beyond the palette is an error; other images ignore the palette
    wo.png_palette = class_palette(2);
    EXPECT_THROW(encode_image(lm, ImageFormat::PNG, wo), Error);
    Image rgb = lm;
    rgb.channels = 3;
    rgb.width = 2;
    rgb.height = 1;
    const std::vector<uint8_t> plain = encode_image(rgb, ImageFormat::PNG, wo);
    EXPECT_EQ(plain[25], 2);
}
