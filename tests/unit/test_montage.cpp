// Unit tests of scvae/montage.h: layout, tile placement, labels.
#include <gtest/gtest.h>

#include <cmath>

#include "scvae/error.h"
#include "scvae/montage.h"

using scvae::Image;

namespace {
Image solid(int w, int h, int c, float v) {
    Image im;
    im.width = w;
    im.height = h;
    im.channels = c;
    im.data.assign(static_cast<size_t>(w) * h * c, v);
    return im;
}
int dark_pixels(const Image& im, int y0, int y1, int x0, int x1) {
    int n = 0;
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) n += im.at(y, x, 0) < 0.5f;
    return n;
}
}  // namespace

TEST(Montage, LayoutWithoutLabels) {
    std::vector<Image> tiles{solid(10, 8, 3, 0.25f), solid(10, 8, 1, 0.5f), solid(6, 4, 3, 0.75f)};
    scvae::MontageOptions opt;
    opt.gap = 2;
    const Image m = scvae::make_montage(tiles, 2, {}, opt);
    EXPECT_EQ(m.channels, 3);
    EXPECT_EQ(m.width, 2 + 2 * (10 + 2));
    EXPECT_EQ(m.height, 2 + 2 * (8 + 2));
    EXPECT_FLOAT_EQ(m.at(2, 2, 0), 0.25f);      // first tile, top-left
    EXPECT_FLOAT_EQ(m.at(9, 11, 2), 0.25f);     // first tile, bottom-right
    EXPECT_FLOAT_EQ(m.at(2, 14, 1), 0.5f);      // second tile: gray replicated
    EXPECT_FLOAT_EQ(m.at(0, 0, 0), 1.0f);       // background
    // Third tile (6x4) centred in its 10x8 cell at (2, 12): x 4..9, y 14..17.
    EXPECT_FLOAT_EQ(m.at(14, 4, 0), 0.75f);
    EXPECT_FLOAT_EQ(m.at(13, 4, 0), 1.0f);
    EXPECT_FLOAT_EQ(m.at(14, 3, 0), 1.0f);
    // More columns than tiles: one row.
    const Image row = scvae::make_montage(tiles, 10, {}, opt);
    EXPECT_EQ(row.width, 2 + 3 * 12);
    EXPECT_EQ(row.height, 2 + 10);
}

TEST(Montage, LabelsAreDrawnInABand) {
    std::vector<Image> tiles{solid(40, 20, 3, 1.0f), solid(40, 20, 3, 1.0f)};
    scvae::MontageOptions opt;
    opt.gap = 0;
    const Image m = scvae::make_montage(tiles, 2, {"a=0.5", ""}, opt);
    EXPECT_GT(m.height, 20);
    const int band = m.height - 20;
    EXPECT_GT(dark_pixels(m, 20, 20 + band, 0, 40), 10);  // text under the first tile
    EXPECT_EQ(dark_pixels(m, 20, 20 + band, 40, 80), 0);  // empty label: nothing drawn
    EXPECT_EQ(dark_pixels(m, 0, 20, 0, 80), 0);            // tiles untouched
    opt.labels_on_top = true;
    const Image top = scvae::make_montage(tiles, 2, {"x", "y"}, opt);
    EXPECT_GT(dark_pixels(top, 0, band, 0, 40), 0);
    EXPECT_EQ(dark_pixels(top, band, band + 20, 0, 80), 0);
}

TEST(Montage, TextWidthAndErrors) {
    EXPECT_EQ(scvae::text_width("", 1), 0);
    EXPECT_EQ(scvae::text_width("ab", 1), 11);
    EXPECT_EQ(scvae::text_width("ab", 2), 22);
    EXPECT_THROW(scvae::make_montage({}, 2, {}), scvae::Error);
    EXPECT_THROW(scvae::make_montage({solid(2, 2, 3, 0)}, 0, {}), scvae::Error);
    EXPECT_THROW(scvae::make_montage({solid(0, 2, 3, 0)}, 1, {}), scvae::Error);
    // A long label is clipped to its cell (nothing drawn outside the first cell).
    scvae::MontageOptions opt;
    opt.gap = 0;
    const Image m = scvae::make_montage({solid(30, 10, 3, 1), solid(30, 10, 3, 1)}, 2,
                                        {"a-very-long-label-that-does-not-fit", ""}, opt);
    EXPECT_EQ(dark_pixels(m, 10, m.height, 30, 60), 0);
    EXPECT_GT(dark_pixels(m, 10, m.height, 0, 30), 0);
}

TEST(Montage, NiceTicks) {
    const auto t = scvae::nice_ticks(0, 100, 5);
    ASSERT_EQ(t.size(), 6u);  // 0 20 40 60 80 100
    EXPECT_DOUBLE_EQ(t[0], 0);
    EXPECT_NEAR(t[1], 20, 1e-9);
    EXPECT_NEAR(t.back(), 100, 1e-9);
    for (double v : scvae::nice_ticks(0.0123, 0.0456, 4)) {
        EXPECT_GE(v, 0.0123);
        EXPECT_LE(v, 0.0456);
    }
    EXPECT_GE(scvae::nice_ticks(0.0123, 0.0456, 4).size(), 3u);
    EXPECT_EQ(scvae::nice_ticks(1, 1, 5).size(), 1u);  // an empty range: the one value
}

TEST(Montage, HeaderBandAboveThePicture) {
    const Image pic = solid(100, 40, 1, 1.0f);
    const Image h = scvae::add_header(pic, {"ab"}, 1);
    EXPECT_EQ(h.channels, 3);
    EXPECT_EQ(h.width, 100);
    const int band = h.height - 40;
    EXPECT_GT(band, 7);
    EXPECT_GT(dark_pixels(h, 0, band, 0, 100), 0);     // the text is in the band
    EXPECT_EQ(dark_pixels(h, band, h.height, 0, 100), 0);  // the picture is untouched
    // a line wider than the picture widens the sheet; two lines make a taller band
    EXPECT_GT(scvae::add_header(pic, {std::string(30, 'x')}, 1).width, 100);
    EXPECT_GT(scvae::add_header(pic, {"a", "b"}, 1).height, h.height);
    // words wrap to the picture's width instead
    const Image w = scvae::add_header(pic, {"aaaa bbbb cccc dddd eeee ffff gggg"}, 1);
    EXPECT_EQ(w.width, 100);
    EXPECT_GT(w.height, scvae::add_header(pic, {"aaaa"}, 1).height);
}

TEST(Montage, TrainingCurvesPlot) {
    std::vector<scvae::CurvePoint> train, val;
    for (int s = 10; s <= 100; s += 10) train.push_back({double(s), 1.0 / s, 10.0 + s / 10.0});
    val.push_back({50, 0.03, 14});
    val.push_back({100, 0.012, 19});
    const Image p = scvae::plot_training_curves(train, val);
    EXPECT_EQ(p.width, 960);
    EXPECT_EQ(p.height, 720);
    EXPECT_EQ(p.channels, 3);
    auto count = [&](float r, float g, float b) {
        int n = 0;
        for (int y = 0; y < p.height; ++y)
            for (int x = 0; x < p.width; ++x)
                n += std::abs(p.at(y, x, 0) - r) < 0.02f && std::abs(p.at(y, x, 1) - g) < 0.02f &&
                     std::abs(p.at(y, x, 2) - b) < 0.02f;
        return n;
    };
    EXPECT_GT(count(0.12f, 0.35f, 0.85f), 200);  // blue train curves (two panels) and the legend
    EXPECT_GT(count(0.85f, 0.12f, 0.12f), 100);  // red validation points
    // nothing but the empty axes without data, and no crash on non-positive or non-finite losses
    const Image e = scvae::plot_training_curves({{1, 0, NAN}, {2, -1, NAN}}, {});
    EXPECT_EQ(e.width, 960);
}
