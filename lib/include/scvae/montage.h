// scvae/montage.h - tiling images into one contact sheet with optional labels (a traversal or an
// interpolation as one figure, Figures 5 and 6 of the paper).
#pragma once

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

}  // namespace scvae
