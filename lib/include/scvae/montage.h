// scvae/montage.h - tiling images into one contact sheet with optional labels (a traversal or an
// interpolation as one figure, Figures 5 and 6 of the paper).
#pragma once

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "scvae/image.h"

namespace scvae {

struct MontageOptions {
    int gap = 2;                 // pixels between tiles and around the sheet
    bool labels_on_top = false;  // labels above the tiles instead of under them
    int label_scale = 0;         // font scale (1 = 5x7 pixels per glyph); 0 = automatic (2 for cells >= 256 px wide)
    float background = 1.0f;     // grey level of the sheet (1 = white)
    float foreground = 0.0f;     // grey level of the label text
};

// Tiles `tiles` row by row into `cols` columns (fewer when there are fewer tiles). Every cell is as large as
// the largest tile; smaller tiles are centred. The sheet is RGB (gray tiles are replicated, alpha is
// composited over the background). `labels` is empty (no labels) or one label per tile (missing ones are
// blank); a label is drawn centred in a band under (or over) its tile with a built-in 5x7 bitmap font
// (printable ASCII; other bytes show as '?'); a label too wide for its cell keeps its end, prefixed "..".
// Throws Error for no tiles, an empty tile, or cols < 1.
Image make_montage(const std::vector<Image>& tiles, int cols, const std::vector<std::string>& labels,
                   const MontageOptions& opt = {});

// Width in pixels of `text` drawn at `scale` (6*scale per character, minus the trailing column).
int text_width(const std::string& text, int scale);
// Draws `text` with its top-left corner at (x, y) in grey level `value` (every channel); clipped to the image.
void draw_text(Image& img, int x, int y, const std::string& text, int scale, float value);
// The same in colour `rgb` (an RGB image).
void draw_text_rgb(Image& img, int x, int y, const std::string& text, int scale, const float rgb[3]);
// Fills the rectangle [x, x+w) x [y, y+h) of an RGB image with `rgb`; clipped to the image.
void fill_rect(Image& img, int x, int y, int w, int h, const float rgb[3]);
// A line of thickness `width` pixels from (x0, y0) to (x1, y1) in `rgb`; clipped to the image.
void draw_line(Image& img, double x0, double y0, double x1, double y1, const float rgb[3], int width = 2);
// Height in pixels of one text line at `scale` (7*scale).
int text_height(int scale);

// `img` (converted to RGB) under a header band holding `lines` of text at `scale`, centred, in `foreground` on
// `background`; a line wraps at spaces to the picture's width, and the sheet is widened (the picture
// centred) only for a word wider than the picture. With wrap = false lines are kept whole and the sheet is
// widened to the widest.
Image add_header(const Image& img, const std::vector<std::string>& lines, int scale, float background = 1.0f,
                 float foreground = 0.0f, bool wrap = true);

// "Nice" tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi], about `target` of them,
// every one inside [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target);

// A line plot: panels stacked over a shared x axis, a title, one legend line for the named series.
struct PlotSeries {
    std::string name;                // legend text ("": not in the legend)
    std::vector<double> x, y;        // a non-finite y (or y <= 0 on a log axis) breaks the line
    std::array<float, 3> colour{0, 0, 0};
    int width = 2;                   // line width in pixels
    bool dots = false;               // a 7x7 square at each point
};
struct PlotPanel {
    std::string label;               // above the panel
    bool log_y = false;              // log10 y axis
    double y_min = NAN, y_max = NAN; // a fixed y range (values outside are drawn at its edge); NaN: from the data
    std::vector<PlotSeries> series;
};
struct LinePlot {
    int width = 960, height = 720;
    std::string title, x_label;
    bool integer_x = false;          // x ticks at whole numbers only
    bool x_from_zero = false;        // the x axis starts at 0 (else at the smallest x)
    std::vector<PlotPanel> panels;
};
// Draws it: labelled ticks and grid lines on both axes, RGB. Throws Error for a picture too small to hold it.
Image plot_lines(const LinePlot& plot);

// One point of a training curve: the step, the total loss and the PSNR in dB (NaN when unknown).
struct CurvePoint {
    double step = 0, loss = 0, psnr = 0;
};
// scvae-train's loss.png: a title, a legend (train blue line, validation red dots) and two panels over a
// shared step axis: the total loss on a log10 axis and the PSNR in dB on a linear axis; both with labelled
// ticks and grid lines. 960x720 RGB.
Image plot_training_curves(const std::vector<CurvePoint>& train, const std::vector<CurvePoint>& val);

}  // namespace scvae
