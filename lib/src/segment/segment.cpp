// segment.cpp - boundary connectivity, background/foreground decision, label maps, masks, overlays, noise.
// The clustering itself (k-means / spectral) is in spectral.cpp; the program scvae-segment
// in tools/scvae-segment/.
#include "scvae/segment.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "scvae/error.h"
#include "scvae/montage.h"

namespace scvae {

SegmentMethod parse_segment_method(const std::string& s) {
    if (s == "kmeans") return SegmentMethod::KMeans;
    if (s == "spectral") return SegmentMethod::Spectral;
    throw InvalidArgument("--method: expected kmeans or spectral, got '" + s + "'");
}

std::string to_string(SegmentMethod m) { return m == SegmentMethod::KMeans ? "kmeans" : "spectral"; }

std::vector<double> boundary_connectivity(const std::vector<int>& labels, int grid_h, int grid_w, int k) {
    if (grid_h <= 0 || grid_w <= 0 || labels.size() != static_cast<size_t>(grid_h) * grid_w)
        throw Error("label grid size does not match its dimensions");
    std::vector<double> border(static_cast<size_t>(k), 0.0), area(static_cast<size_t>(k), 0.0);
    for (int r = 0; r < grid_h; ++r)
        for (int c = 0; c < grid_w; ++c) {
            int l = labels[static_cast<size_t>(r) * grid_w + c];
            if (l < 0 || l >= k) throw Error("label " + std::to_string(l) + " outside 0.." + std::to_string(k - 1));
            area[static_cast<size_t>(l)] += 1;
            if (r == 0 || c == 0 || r == grid_h - 1 || c == grid_w - 1) border[static_cast<size_t>(l)] += 1;
        }
    std::vector<double> b(static_cast<size_t>(k), 0.0);
    for (size_t i = 0; i < b.size(); ++i)
        if (area[i] > 0) b[i] = border[i] / std::sqrt(area[i]);
    return b;
}

std::vector<uint8_t> foreground_classes(const std::vector<double>& bndcon, const std::vector<size_t>& sizes,
                                        double threshold) {
    std::vector<uint8_t> fg(bndcon.size(), 0);
    const size_t none = bndcon.size();
    size_t bg = none, lo = none;
    for (size_t i = 0; i < bndcon.size(); ++i) {
        if (sizes[i] == 0) continue;  // an empty class is never foreground
        if (bg == none || bndcon[i] > bndcon[bg] || (bndcon[i] == bndcon[bg] && sizes[i] > sizes[bg])) bg = i;
        if (lo == none || bndcon[i] < bndcon[lo] || (bndcon[i] == bndcon[lo] && sizes[i] < sizes[lo])) lo = i;
    }
    if (bg == none || lo == bg) return fg;  // fewer than two non-empty classes: all background
    for (size_t i = 0; i < bndcon.size(); ++i)
        fg[i] = (i != bg && sizes[i] > 0 && (i == lo || bndcon[i] <= threshold)) ? 1 : 0;
    return fg;
}

Segmentation finish_segmentation(std::vector<int> labels, int grid_h, int grid_w, int k, SegmentMethod method,
                                 double bndcon_threshold) {
    std::vector<double> b = boundary_connectivity(labels, grid_h, grid_w, k);
    std::vector<size_t> size(static_cast<size_t>(k), 0);
    for (int l : labels) ++size[static_cast<size_t>(l)];
    std::vector<int> order(static_cast<size_t>(k));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int c) {
        if (b[static_cast<size_t>(a)] != b[static_cast<size_t>(c)]) return b[static_cast<size_t>(a)] > b[static_cast<size_t>(c)];
        return size[static_cast<size_t>(a)] > size[static_cast<size_t>(c)];
    });
    std::vector<int> remap(static_cast<size_t>(k));
    for (int i = 0; i < k; ++i) remap[static_cast<size_t>(order[static_cast<size_t>(i)])] = i;
    Segmentation s;
    s.method = method;
    s.k = k;
    s.grid_h = grid_h;
    s.grid_w = grid_w;
    for (int& l : labels) l = remap[static_cast<size_t>(l)];
    s.labels = std::move(labels);
    s.class_sizes.resize(static_cast<size_t>(k));
    s.bndcon.resize(static_cast<size_t>(k));
    for (int i = 0; i < k; ++i) {
        s.class_sizes[static_cast<size_t>(i)] = size[static_cast<size_t>(order[static_cast<size_t>(i)])];
        s.bndcon[static_cast<size_t>(i)] = b[static_cast<size_t>(order[static_cast<size_t>(i)])];
    }
    s.foreground = foreground_classes(s.bndcon, s.class_sizes, bndcon_threshold);
    s.mask.resize(s.labels.size());
    size_t nfg = 0;
    for (size_t i = 0; i < s.labels.size(); ++i) {
        s.mask[i] = s.foreground[static_cast<size_t>(s.labels[i])];
        nfg += s.mask[i];
    }
    s.foreground_fraction = s.labels.empty() ? 0.0 : static_cast<double>(nfg) / static_cast<double>(s.labels.size());
    return s;
}

namespace {

void check_fit(const Segmentation& s, const CodeRecord& rec) {
    if (static_cast<uint32_t>(s.grid_h) != rec.grid_h || static_cast<uint32_t>(s.grid_w) != rec.grid_w)
        throw Error("segmentation grid does not match the record's grid");
    // The reader keeps d within 0..16 (scvae-codes(5)); checked again here because a shift by 32 or more
    // would be undefined.
    if (rec.d > 16) throw Error(rec.source + ": d=" + std::to_string(rec.d) + " out of range (0..16)");
    const uint64_t f = uint64_t(1) << rec.d;
    if (rec.image_width == 0 || rec.image_height == 0 || rec.image_width > uint64_t(rec.grid_w) * f ||
        rec.image_height > uint64_t(rec.grid_h) * f)
        throw Error(rec.source + ": record's image size " + std::to_string(rec.image_width) + "x" +
                    std::to_string(rec.image_height) + " does not fit its grid");
}

template <class F>
Image grid_image(const Segmentation& s, const CodeRecord& rec, F value) {
    check_fit(s, rec);
    Image img;
    img.width = static_cast<int>(rec.image_width);
    img.height = static_cast<int>(rec.image_height);
    img.channels = 1;
    img.data.resize(img.pixels());
    const unsigned d = rec.d;
    const size_t grid_w = static_cast<size_t>(s.grid_w);
    for (size_t y = 0; y < static_cast<size_t>(img.height); ++y)
        for (size_t x = 0; x < static_cast<size_t>(img.width); ++x)
            img.data[y * static_cast<size_t>(img.width) + x] = value((y >> d) * grid_w + (x >> d));
    return img;
}

}  // namespace

std::vector<uint8_t> class_palette(int k) {
    if (k < 1 || k > 256) throw Error("class palette: k=" + std::to_string(k) + " out of range (1..256)");
    static const uint8_t tab10[10][3] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},
                                         {148, 103, 189}, {140, 86, 75}, {227, 119, 194}, {127, 127, 127},
                                         {188, 189, 34},  {23, 190, 207}};
    std::vector<uint8_t> p;
    for (int c = 0; c < k; ++c) {
        if (c < 10) {
            p.insert(p.end(), tab10[c], tab10[c] + 3);
            continue;
        }
        // HSV with hue at golden-angle steps, saturation and value alternating so neighbours differ
        const double h = std::fmod((c - 10) * 137.50776405, 360.0) / 60.0, sat = c % 2 ? 0.65 : 0.9,
                     val = c % 3 == 0 ? 0.75 : 0.95;
        const double chroma = val * sat, x = chroma * (1 - std::abs(std::fmod(h, 2.0) - 1)), m = val - chroma;
        double r = 0, g = 0, b = 0;
        switch (static_cast<int>(h)) {
            case 0: r = chroma, g = x; break;
            case 1: r = x, g = chroma; break;
            case 2: g = chroma, b = x; break;
            case 3: g = x, b = chroma; break;
            case 4: r = x, b = chroma; break;
            default: r = chroma, b = x; break;
        }
        for (double v : {r, g, b}) p.push_back(static_cast<uint8_t>(std::lround(255 * (v + m))));
    }
    return p;
}

Image label_map_image(const Segmentation& s, const CodeRecord& rec) {
    return grid_image(s, rec, [&](size_t p) { return static_cast<float>(s.labels[p]) / 255.0f; });
}

Image mask_image(const Segmentation& s, const CodeRecord& rec) {
    return grid_image(s, rec, [&](size_t p) { return s.mask[p] ? 1.0f : 0.0f; });
}

Image overlay_image(const Image& img, const Segmentation& s, const CodeRecord& rec) {
    check_fit(s, rec);
    if (static_cast<uint32_t>(img.width) != rec.image_width || static_cast<uint32_t>(img.height) != rec.image_height)
        throw Error(rec.source + ": image is " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                    " but its codes were made from a " + std::to_string(rec.image_width) + "x" +
                    std::to_string(rec.image_height) + " image");
    const std::vector<uint8_t> pal = class_palette(std::max(1, std::min(s.k, 256)));
    auto colour = [&](int c, float out[3]) {
        const size_t i = static_cast<size_t>(c % std::max(1, std::min(s.k, 256))) * 3;
        for (int ch = 0; ch < 3; ++ch) out[ch] = pal[i + ch] / 255.0f;
    };
    const float a = 0.45f;
    Image rgb = to_rgb(img);
    const unsigned d = rec.d;
    auto cell = [&](int y, int x) {
        return (static_cast<size_t>(y) >> d) * static_cast<size_t>(s.grid_w) + (static_cast<size_t>(x) >> d);
    };
    for (int y = 0; y < rgb.height; ++y)
        for (int x = 0; x < rgb.width; ++x) {
            size_t p = cell(y, x);
            float col[3];
            colour(s.labels[p], col);
            bool edge = false;
            if (x + 1 < rgb.width && s.mask[cell(y, x + 1)] != s.mask[p]) edge = true;
            if (y + 1 < rgb.height && s.mask[cell(y + 1, x)] != s.mask[p]) edge = true;
            for (int ch = 0; ch < 3; ++ch) {
                float& v = rgb.at(y, x, ch);
                v = edge ? 1.0f : (1 - a) * v + a * col[ch];
            }
        }
    // Legend: entries "[swatch] 3 fg 12%" flowing left to right, wrapped to the image width.
    const int scale = rgb.width >= 400 ? 2 : 1;
    const int th = text_height(scale), sw = th + 2, pad = 2 + scale * 2, line_h = th + 2 * pad;
    const size_t cells = s.labels.size();
    std::vector<std::string> text;
    for (int c = 0; c < s.k; ++c) {
        const size_t n = c < static_cast<int>(s.class_sizes.size()) ? s.class_sizes[c] : 0;
        const bool fg = c < static_cast<int>(s.foreground.size()) && s.foreground[c];
        const long pct = cells ? std::lround(100.0 * n / cells) : 0;
        text.push_back(std::to_string(c) + (fg ? " fg " : " bg ") + (n > 0 && pct == 0 ? "<1" : std::to_string(pct)) + "%");
    }
    std::vector<std::pair<int, int>> at;  // x, line of each entry
    int x = pad, line = 0;
    for (const auto& t : text) {
        const int w = sw + 2 * scale + text_width(t, scale);
        if (x > pad && x + w > rgb.width - pad) x = pad, ++line;
        at.emplace_back(x, line);
        x += w + 4 * scale + 4;
    }
    Image out;
    out.channels = 3;
    out.width = rgb.width;
    out.height = rgb.height + (line + 1) * line_h;
    out.data.assign(out.pixels() * 3, 1.0f);
    std::copy(rgb.data.begin(), rgb.data.end(), out.data.begin());
    const float black[3] = {0, 0, 0};
    for (int c = 0; c < s.k; ++c) {
        const int ex = at[c].first, ey = rgb.height + at[c].second * line_h + pad;
        float col[3];
        colour(c, col);
        fill_rect(out, ex, ey - 1, sw, th + 2, black);
        fill_rect(out, ex + 1, ey, sw - 2, th, col);
        draw_text_rgb(out, ex + sw + 2 * scale, ey, text[c], scale, black);
    }
    return out;
}

nlohmann::json segmentation_summary(const Segmentation& s, const CodeRecord& rec, size_t index) {
    nlohmann::json fg = nlohmann::json::array();
    for (size_t i = 0; i < s.foreground.size(); ++i)
        if (s.foreground[i]) fg.push_back(i);
    std::vector<double> b = s.bndcon;
    for (double& v : b) v = std::round(v * 1e4) / 1e4;
    return {{"index", index},
            {"source", rec.source},
            {"method", to_string(s.method)},
            {"k", s.k},
            {"grid", {s.grid_h, s.grid_w}},
            {"image", {rec.image_width, rec.image_height}},
            {"class_sizes", s.class_sizes},
            {"bndcon", b},
            {"foreground_classes", fg},
            {"foreground_fraction", std::round(s.foreground_fraction * 1e6) / 1e6}};
}

void add_gaussian_noise(Image& img, double sigma, uint64_t seed) {
    if (sigma <= 0) return;
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> nd(0.0, sigma);
    const int colour = (img.channels == 2 || img.channels == 4) ? img.channels - 1 : img.channels;
    for (size_t p = 0; p < img.pixels(); ++p)
        for (int c = 0; c < colour; ++c) {
            float& v = img.data[p * img.channels + c];
            v = static_cast<float>(std::clamp(v + nd(rng), 0.0, 1.0));
        }
}

}  // namespace scvae

namespace scvae {

CodeRecord pixel_record(const Image& in, int cell, const std::string& name) {
    if (cell < 1 || cell > 64 || (cell & (cell - 1)) != 0)
        throw InvalidArgument("--pixels: the cell size must be a power of two from 1 to 64, not " + std::to_string(cell));
    Image img = to_rgb(in);
    if (img.width < 1 || img.height < 1) throw Error(name + ": empty image");
    CodeRecord r;
    r.fingerprint = "pixels" + std::to_string(cell);
    r.K = static_cast<uint32_t>(3 * cell * cell);
    r.n = r.K;
    r.d = 0;
    while ((1 << r.d) < cell) ++r.d;
    r.source = name;
    r.image_width = static_cast<uint32_t>(img.width);
    r.image_height = static_cast<uint32_t>(img.height);
    r.image_channels = static_cast<uint32_t>(in.channels >= 3 ? 3 : 1);
    const int pw = (img.width + cell - 1) / cell * cell, ph = (img.height + cell - 1) / cell * cell;
    r.pad_right = static_cast<uint32_t>(pw - img.width);
    r.pad_bottom = static_cast<uint32_t>(ph - img.height);
    r.grid_w = static_cast<uint32_t>(pw / cell);
    r.grid_h = static_cast<uint32_t>(ph / cell);
    // the encoder's padding: reflect, or replicate when the image is smaller than the pad
    const bool reflect = static_cast<int>(r.pad_right) < img.width && static_cast<int>(r.pad_bottom) < img.height;
    auto src = [&](int v, int n) {
        if (v < n) return v;
        return reflect ? 2 * (n - 1) - v : n - 1;
    };
    r.row_ptr.assign(1, 0);
    std::vector<float> patch(r.K);
    for (uint32_t gy = 0; gy < r.grid_h; ++gy)
        for (uint32_t gx = 0; gx < r.grid_w; ++gx) {
            size_t t = 0;
            for (int y = 0; y < cell; ++y)
                for (int x = 0; x < cell; ++x)
                    for (int c = 0; c < 3; ++c)
                        patch[t++] = img.at(src(static_cast<int>(gy) * cell + y, img.height),
                                            src(static_cast<int>(gx) * cell + x, img.width), c);
            for (size_t j = 0; j < patch.size(); ++j)
                if (patch[j] != 0.0f) {
                    r.indices.push_back(static_cast<uint16_t>(j));
                    r.values.push_back(patch[j]);
                }
            r.row_ptr.push_back(static_cast<uint32_t>(r.indices.size()));
        }
    return r;
}

}  // namespace scvae
