// montage.cpp - contact sheets with a small built-in bitmap font (see scvae/montage.h).
#include "scvae/montage.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "scvae/error.h"

namespace scvae {

namespace {

// 5x7 glyphs for ASCII 32..126, one byte per row (top first), bit 4 = leftmost column.
const uint8_t kFont[95][7] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},  // ' '
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x00, 0x04},  // '!'
    {0x0a, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00},  // '"'
    {0x0a, 0x1f, 0x0a, 0x0a, 0x0a, 0x1f, 0x0a},  // '#'
    {0x04, 0x0f, 0x14, 0x0e, 0x05, 0x1e, 0x04},  // '$'
    {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03},  // '%'
    {0x0c, 0x12, 0x14, 0x08, 0x15, 0x12, 0x0d},  // '&'
    {0x04, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00},  // '\''
    {0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02},  // '('
    {0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08},  // ')'
    {0x00, 0x04, 0x15, 0x0e, 0x15, 0x04, 0x00},  // '*'
    {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00},  // '+'
    {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08},  // ','
    {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00},  // '-'
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c},  // '.'
    {0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00},  // '/'
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e},  // '0'
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e},  // '1'
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f},  // '2'
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e},  // '3'
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02},  // '4'
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e},  // '5'
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e},  // '6'
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08},  // '7'
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e},  // '8'
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c},  // '9'
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00},  // ':'
    {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x04, 0x08},  // ';'
    {0x02, 0x04, 0x08, 0x10, 0x08, 0x04, 0x02},  // '<'
    {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00},  // '='
    {0x08, 0x04, 0x02, 0x01, 0x02, 0x04, 0x08},  // '>'
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04},  // '?'
    {0x0e, 0x11, 0x01, 0x0d, 0x15, 0x15, 0x0e},  // '@'
    {0x0e, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11},  // 'A'
    {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e},  // 'B'
    {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e},  // 'C'
    {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c},  // 'D'
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f},  // 'E'
    {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x10},  // 'F'
    {0x0e, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0f},  // 'G'
    {0x11, 0x11, 0x11, 0x1f, 0x11, 0x11, 0x11},  // 'H'
    {0x0e, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e},  // 'I'
    {0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0c},  // 'J'
    {0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11},  // 'K'
    {0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1f},  // 'L'
    {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11},  // 'M'
    {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11},  // 'N'
    {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e},  // 'O'
    {0x1e, 0x11, 0x11, 0x1e, 0x10, 0x10, 0x10},  // 'P'
    {0x0e, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0d},  // 'Q'
    {0x1e, 0x11, 0x11, 0x1e, 0x14, 0x12, 0x11},  // 'R'
    {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e},  // 'S'
    {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // 'T'
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e},  // 'U'
    {0x11, 0x11, 0x11, 0x11, 0x11, 0x0a, 0x04},  // 'V'
    {0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0a},  // 'W'
    {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11},  // 'X'
    {0x11, 0x11, 0x0a, 0x04, 0x04, 0x04, 0x04},  // 'Y'
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1f},  // 'Z'
    {0x0e, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0e},  // '['
    {0x00, 0x10, 0x08, 0x04, 0x02, 0x01, 0x00},  // '\\'
    {0x0e, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0e},  // ']'
    {0x04, 0x0a, 0x11, 0x00, 0x00, 0x00, 0x00},  // '^'
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f},  // '_'
    {0x08, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00},  // '`'
    {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f},  // 'a'
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e},  // 'b'
    {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e},  // 'c'
    {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f},  // 'd'
    {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e},  // 'e'
    {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08},  // 'f'
    {0x00, 0x0f, 0x11, 0x11, 0x0f, 0x01, 0x0e},  // 'g'
    {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11},  // 'h'
    {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e},  // 'i'
    {0x02, 0x00, 0x06, 0x02, 0x02, 0x12, 0x0c},  // 'j'
    {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12},  // 'k'
    {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e},  // 'l'
    {0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11},  // 'm'
    {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11},  // 'n'
    {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e},  // 'o'
    {0x00, 0x00, 0x1e, 0x11, 0x1e, 0x10, 0x10},  // 'p'
    {0x00, 0x00, 0x0d, 0x13, 0x0f, 0x01, 0x01},  // 'q'
    {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10},  // 'r'
    {0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e},  // 's'
    {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06},  // 't'
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0d},  // 'u'
    {0x00, 0x00, 0x11, 0x11, 0x11, 0x0a, 0x04},  // 'v'
    {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0a},  // 'w'
    {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11},  // 'x'
    {0x00, 0x00, 0x11, 0x11, 0x0f, 0x01, 0x0e},  // 'y'
    {0x00, 0x00, 0x1f, 0x02, 0x04, 0x08, 0x1f},  // 'z'
    {0x02, 0x04, 0x04, 0x08, 0x04, 0x04, 0x02},  // '{'
    {0x04, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04},  // '|'
    {0x08, 0x04, 0x04, 0x02, 0x04, 0x04, 0x08},  // '}'
    {0x00, 0x00, 0x08, 0x15, 0x02, 0x00, 0x00},  // '~'
};

constexpr int kGlyphW = 5, kGlyphH = 7, kAdvance = 6;

const uint8_t* glyph(char ch) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c < 32 || c > 126) c = '?';
    return kFont[c - 32];
}

// RGB value of tile pixel (y, x), channel c (0..2), composited over `bg`.
float tile_rgb(const Image& t, int y, int x, int c, float bg) {
    const float* p = &t.data[(static_cast<size_t>(y) * t.width + x) * t.channels];
    switch (t.channels) {
        case 1: return p[0];
        case 2: return p[0] * p[1] + bg * (1 - p[1]);
        case 3: return p[c];
        default: return p[c] * p[3] + bg * (1 - p[3]);
    }
}

}  // namespace

int text_width(const std::string& text, int scale) {
    if (text.empty()) return 0;
    return (static_cast<int>(text.size()) * kAdvance - 1) * scale;
}

void draw_text(Image& img, int x0, int y0, const std::string& text, int scale, float value) {
    int x = x0;
    for (char ch : text) {
        const uint8_t* g = glyph(ch);
        for (int r = 0; r < kGlyphH; ++r)
            for (int col = 0; col < kGlyphW; ++col) {
                if (!(g[r] & (1 << (kGlyphW - 1 - col)))) continue;
                for (int sy = 0; sy < scale; ++sy)
                    for (int sx = 0; sx < scale; ++sx) {
                        const int py = y0 + r * scale + sy, px = x + col * scale + sx;
                        if (py < 0 || px < 0 || py >= img.height || px >= img.width) continue;
                        for (int c = 0; c < img.channels; ++c) img.at(py, px, c) = value;
                    }
            }
        x += kAdvance * scale;
    }
}

void draw_text_rgb(Image& img, int x0, int y0, const std::string& text, int scale, const float rgb[3]) {
    int x = x0;
    for (char ch : text) {
        const uint8_t* g = glyph(ch);
        for (int r = 0; r < kGlyphH; ++r)
            for (int col = 0; col < kGlyphW; ++col)
                if (g[r] & (1 << (kGlyphW - 1 - col))) fill_rect(img, x + col * scale, y0 + r * scale, scale, scale, rgb);
        x += kAdvance * scale;
    }
}

void fill_rect(Image& img, int x, int y, int w, int h, const float rgb[3]) {
    const int x0 = std::max(0, x), y0 = std::max(0, y), x1 = std::min(img.width, x + w), y1 = std::min(img.height, y + h);
    for (int py = y0; py < y1; ++py)
        for (int px = x0; px < x1; ++px)
            for (int c = 0; c < img.channels; ++c) img.at(py, px, c) = rgb[std::min(c, 2)];
}

void draw_line(Image& img, double x0, double y0, double x1, double y1, const float rgb[3], int width) {
    const int n = static_cast<int>(std::max(std::abs(x1 - x0), std::abs(y1 - y0))) + 1;
    const int off = (width - 1) / 2;
    for (int i = 0; i <= n; ++i) {
        const double t = static_cast<double>(i) / n;
        const int x = static_cast<int>(std::lround(x0 + (x1 - x0) * t)), y = static_cast<int>(std::lround(y0 + (y1 - y0) * t));
        fill_rect(img, x - off, y - off, width, width, rgb);
    }
}

int text_height(int scale) { return kGlyphH * scale; }

Image add_header(const Image& img, const std::vector<std::string>& lines, int scale, float background,
                 float foreground, bool wrap) {
    MontageOptions mo;
    mo.gap = 0;
    mo.background = background;
    const Image src = img.channels == 3 ? img : make_montage({img}, 1, {}, mo);
    const int pad = 3 * scale + 2, line_h = kGlyphH * scale + 2 * scale + 2;
    // Lines wrap at spaces to the picture's width; a word wider than that widens the sheet.
    std::vector<std::string> wrapped;
    for (const auto& l : lines) {
        std::string cur;
        size_t i = 0;
        while (i <= l.size()) {
            size_t j = l.find(' ', i);
            if (j == std::string::npos) j = l.size();
            const std::string word = l.substr(i, j - i);
            const std::string joined = cur.empty() ? word : cur + " " + word;
            if (wrap && !cur.empty() && text_width(joined, scale) + 2 * pad > src.width) {
                wrapped.push_back(cur);
                cur = word;
            } else {
                cur = joined;
            }
            i = j + 1;
        }
        wrapped.push_back(cur);
    }
    int width = src.width;
    for (const auto& l : wrapped) width = std::max(width, text_width(l, scale) + 2 * pad);
    const int band = wrapped.empty() ? 0 : 2 * pad + static_cast<int>(wrapped.size()) * line_h - 2 * scale - 2;
    Image out;
    out.channels = 3;
    out.width = width;
    out.height = src.height + band;
    out.data.assign(out.pixels() * 3, background);
    const int ox = (width - src.width) / 2;
    for (int y = 0; y < src.height; ++y)
        for (int x = 0; x < src.width; ++x)
            for (int c = 0; c < 3; ++c) out.at(band + y, ox + x, c) = src.at(y, x, c);
    for (size_t i = 0; i < wrapped.size(); ++i)
        draw_text(out, (width - text_width(wrapped[i], scale)) / 2, pad + static_cast<int>(i) * line_h, wrapped[i],
                  scale, foreground);
    return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
    std::vector<double> t;
    if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) {
        if (std::isfinite(lo)) t.push_back(lo);
        return t;
    }
    const double raw = (hi - lo) / std::max(1, target);
    const double p = std::pow(10.0, std::floor(std::log10(raw)));
    double step = p;  // the 1, 2, 5 or 10 times p closest to raw (on a log scale)
    for (double m : {2.0, 5.0, 10.0})
        if (std::abs(std::log(m * p / raw)) < std::abs(std::log(step / raw))) step = m * p;
    for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
        t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
    return t;
}

namespace {

std::string tick_label(double v, bool integer = false) {
    char b[32];
    if (integer && std::abs(v) < 1e7)
        std::snprintf(b, sizeof b, "%.0f", v);
    else
        std::snprintf(b, sizeof b, "%.3g", v);
    return b;
}

}  // namespace

Image plot_lines(const LinePlot& plot) {
    const int W = plot.width, H = plot.height, L = 120, R = 40, S = 2;  // S: text scale (10x14-pixel glyphs)
    if (W < L + R + 100 || H < 200 || plot.panels.empty()) throw Error("plot: too small, or no panels");
    Image img;
    img.width = W;
    img.height = H;
    img.channels = 3;
    img.data.assign(static_cast<size_t>(W) * H * 3, 1.0f);
    const float black[3] = {0, 0, 0}, grid[3] = {0.88f, 0.88f, 0.88f}, dark[3] = {0.35f, 0.35f, 0.35f};
    const int th = kGlyphH * S;
    draw_text_rgb(img, (W - text_width(plot.title, 3)) / 2, 8, plot.title, 3, black);
    // legend: the named series of every panel, on one line under the title
    {
        const int sw = 36;
        std::vector<const PlotSeries*> named;
        for (const auto& panel : plot.panels)
            for (const auto& sr : panel.series)
                if (!sr.name.empty()) named.push_back(&sr);
        int total = 0;
        for (size_t k = 0; k < named.size(); ++k) total += (k ? 40 : 0) + sw + 8 + text_width(named[k]->name, S);
        int x = (W - total) / 2;
        const int y = 48;
        for (const PlotSeries* sr : named) {
            draw_line(img, x, y + th / 2, x + sw, y + th / 2, sr->colour.data(), sr->width);
            if (sr->dots) fill_rect(img, x + sw / 2 - 3, y + th / 2 - 3, 7, 7, sr->colour.data());
            x += sw + 8;
            draw_text_rgb(img, x, y, sr->name, S, black);
            x += text_width(sr->name, S) + 40;
        }
    }
    double xmin = 1e300, xmax = -1e300;
    for (const auto& panel : plot.panels)
        for (const auto& sr : panel.series)
            for (double v : sr.x)
                if (std::isfinite(v)) xmin = std::min(xmin, v), xmax = std::max(xmax, v);
    if (plot.x_from_zero || xmin > xmax) xmin = std::min(0.0, xmin > xmax ? 0.0 : xmin);
    if (xmax <= xmin) xmax = xmin + 1;
    std::vector<double> xt;
    for (double v : nice_ticks(xmin, xmax, 6))
        if (!plot.integer_x || std::abs(v - std::round(v)) < 1e-9) xt.push_back(plot.integer_x ? std::round(v) : v);
    auto X = [&](double v) { return L + (W - L - R) * (v - xmin) / (xmax - xmin); };
    // Panels share the height between the legend and the x label; each has its label above it.
    const int n = static_cast<int>(plot.panels.size());
    const int first = 110, last = H - 60, gap = 80;
    const int ph = (last - first - (n - 1) * gap) / n;
    for (int pi = 0; pi < n; ++pi) {
        const PlotPanel& panel = plot.panels[pi];
        const int top = first + pi * (ph + gap), bottom = top + ph;
        const bool logy = panel.log_y;
        auto f = [&](double v) { return logy ? std::log10(v) : v; };
        auto ok = [&](double v) { return std::isfinite(v) && (!logy || v > 0); };
        double lo = 1e300, hi = -1e300;
        for (const auto& sr : panel.series)
            for (double v : sr.y)
                if (ok(v)) lo = std::min(lo, f(v)), hi = std::max(hi, f(v));
        const bool empty = lo > hi;
        if (std::isfinite(panel.y_min) && std::isfinite(panel.y_max)) {
            lo = f(panel.y_min), hi = f(panel.y_max);
        } else {
            if (empty) lo = 0, hi = 1;
            if (hi - lo < (logy ? 0.02 : 0.5)) {
                const double mid = (lo + hi) / 2, half = logy ? 0.01 : 0.25;
                lo = mid - half, hi = mid + half;
            }
            const double margin = 0.05 * (hi - lo);
            lo -= margin, hi += margin;
        }
        auto Y = [&](double fv) { return top + (bottom - top) * (hi - fv) / (hi - lo); };
        draw_text_rgb(img, L, top - th - 10, panel.label, S, black);
        // y ticks: decades (and 2, 5 within them when few) on a log axis spanning a decade or more, else nice
        // linear values
        std::vector<double> yt;  // in value space
        if (logy && hi - lo >= 1) {
            const int k0 = static_cast<int>(std::floor(lo)), k1 = static_cast<int>(std::ceil(hi));
            const int every = std::max(1, (k1 - k0) / 6);
            for (int k = k0; k <= k1; ++k) {
                if ((k - k0) % every) continue;
                for (double m : (k1 - k0 <= 2 ? std::vector<double>{1, 2, 5} : std::vector<double>{1}))
                    yt.push_back(m * std::pow(10.0, k));
            }
        } else if (logy) {
            yt = nice_ticks(std::pow(10.0, lo), std::pow(10.0, hi), 5);
        } else {
            yt = nice_ticks(lo, hi, 5);
        }
        for (double v : yt) {
            if (logy && !(v > 0)) continue;
            const double fv = f(v);
            if (fv < lo - 1e-12 || fv > hi + 1e-12) continue;
            const double y = Y(fv);
            draw_line(img, L, y, W - R, y, grid, 1);
            draw_line(img, L - 6, y, L, y, black, 2);
            const std::string s = tick_label(v);
            draw_text_rgb(img, L - 10 - text_width(s, S), static_cast<int>(y) - th / 2, s, S, black);
        }
        for (double v : xt) {
            const double x = X(v);
            draw_line(img, x, top, x, bottom, grid, 1);
            draw_line(img, x, bottom, x, bottom + 6, black, 2);
            const std::string s = tick_label(v, plot.integer_x);
            const int w = text_width(s, S);
            draw_text_rgb(img, std::min(W - w - 2, static_cast<int>(x) - w / 2), bottom + 10, s, S, black);
        }
        draw_line(img, L, top, L, bottom, black, 2);
        draw_line(img, L, bottom, W - R, bottom, black, 2);
        if (empty) {
            const std::string s = "no data yet";
            draw_text_rgb(img, L + (W - L - R - text_width(s, S)) / 2, (top + bottom - th) / 2, s, S, dark);
            continue;
        }
        for (const auto& sr : panel.series) {
            bool prev = false;
            double px = 0, py = 0;
            for (size_t k = 0; k < sr.x.size() && k < sr.y.size(); ++k) {
                if (!ok(sr.y[k]) || !std::isfinite(sr.x[k])) {
                    prev = false;
                    continue;
                }
                const double x = X(sr.x[k]), y = Y(std::clamp(f(sr.y[k]), lo, hi));
                if (prev) draw_line(img, px, py, x, y, sr.colour.data(), sr.width);
                if (sr.dots) fill_rect(img, static_cast<int>(x) - 3, static_cast<int>(y) - 3, 7, 7, sr.colour.data());
                prev = true, px = x, py = y;
            }
        }
    }
    draw_text_rgb(img, (W - text_width(plot.x_label, S)) / 2, H - th - 10, plot.x_label, S, black);
    return img;
}

Image plot_training_curves(const std::vector<CurvePoint>& train, const std::vector<CurvePoint>& val) {
    const std::array<float, 3> blue{0.12f, 0.35f, 0.85f}, red{0.85f, 0.12f, 0.12f};
    auto series = [](const std::vector<CurvePoint>& pts, double CurvePoint::*field, std::string name,
                     std::array<float, 3> colour, int width, bool dots) {
        PlotSeries s;
        s.name = std::move(name);
        s.colour = colour;
        s.width = width;
        s.dots = dots;
        for (const auto& p : pts) {
            s.x.push_back(p.step);
            s.y.push_back(p.*field);
        }
        return s;
    };
    LinePlot plot;
    plot.title = "training curves";
    plot.x_label = "step";
    plot.integer_x = true;
    plot.x_from_zero = true;
    PlotPanel loss{"total loss (log scale)", true, NAN, NAN,
                   {series(train, &CurvePoint::loss, "train (every log interval)", blue, 2, false),
                    series(val, &CurvePoint::loss, "validation", red, 2, true)}};
    PlotPanel psnr{"PSNR (dB)", false, NAN, NAN,
                   {series(train, &CurvePoint::psnr, "", blue, 2, false),
                    series(val, &CurvePoint::psnr, "", red, 2, true)}};
    plot.panels = {std::move(loss), std::move(psnr)};
    return plot_lines(plot);
}

Image make_montage(const std::vector<Image>& tiles, int cols, const std::vector<std::string>& labels,
                   const MontageOptions& opt) {
    if (tiles.empty()) throw Error("montage: no images");
    if (cols < 1) throw Error("montage: the number of columns must be positive");
    int cw = 0, ch = 0;
    for (size_t i = 0; i < tiles.size(); ++i) {
        const Image& t = tiles[i];
        if (t.width <= 0 || t.height <= 0 || t.channels < 1 || t.channels > 4 ||
            t.data.size() != t.pixels() * static_cast<size_t>(t.channels))
            throw Error("montage: image " + std::to_string(i + 1) + " is empty or malformed");
        cw = std::max(cw, t.width);
        ch = std::max(ch, t.height);
    }
    bool any_label = false;
    for (const auto& l : labels) any_label = any_label || !l.empty();
    const int scale = opt.label_scale > 0 ? opt.label_scale : (cw >= 256 ? 2 : 1);
    const int band = any_label ? kGlyphH * scale + 2 * std::max(2, scale * 2) : 0;
    const int gap = std::max(0, opt.gap);
    const int n = static_cast<int>(tiles.size());
    cols = std::min(cols, n);
    const int rows = (n + cols - 1) / cols;
    Image out;
    out.channels = 3;
    out.width = gap + cols * (cw + gap);
    out.height = gap + rows * (ch + band + gap);
    out.data.assign(out.pixels() * 3, opt.background);
    for (int i = 0; i < n; ++i) {
        const Image& t = tiles[i];
        const int cx = gap + (i % cols) * (cw + gap);
        const int cy = gap + (i / cols) * (ch + band + gap);
        const int ty = cy + (opt.labels_on_top ? band : 0) + (ch - t.height) / 2;
        const int tx = cx + (cw - t.width) / 2;
        for (int y = 0; y < t.height; ++y)
            for (int x = 0; x < t.width; ++x)
                for (int c = 0; c < 3; ++c) out.at(ty + y, tx + x, c) = tile_rgb(t, y, x, c, opt.background);
        if (!any_label || static_cast<size_t>(i) >= labels.size() || labels[i].empty()) continue;
        std::string text = labels[i];
        if (text_width(text, scale) > cw) {
            const int fit = std::max(0, (cw / scale + 1) / kAdvance - 2);
            text = ".." + text.substr(text.size() - std::min<size_t>(text.size(), fit));
        }
        const int by = opt.labels_on_top ? cy : cy + ch;
        const int lx = cx + std::max(0, (cw - text_width(text, scale)) / 2);
        draw_text(out, lx, by + (band - kGlyphH * scale) / 2, text, scale, opt.foreground);
    }
    return out;
}

}  // namespace scvae
