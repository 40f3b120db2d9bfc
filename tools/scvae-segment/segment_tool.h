// segment_tool.h - scvae-segment as a function of its options (tools/scvae-segment/main.cpp parses them).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "scvae/segment.h"

namespace scvae {

struct SegmentToolOptions {
    std::vector<std::string> inputs;  // code streams (default stdin), or images with --model
    std::optional<std::string> model;  // encode images with this model
    SegmentOptions seg;
    bool k_given = false;
    std::string output;       // -o: the mask (spectral) or label map (kmeans)
    std::string labels;       // --labels: label maps
    std::string mask;         // --mask: foreground masks
    std::string overlay;      // --overlay
    std::string images_dir;   // --images
    double noise = 0;         // --noise sigma ([0,1] scale), images only
    std::optional<int> pixels;  // --pixels CELL: segment the images' raw CELL x CELL patches (no model)
    std::optional<int> threads;  // none: every CPU the process may use
    int batch = 1;            // images encoded per Codec call
};

// Runs scvae-segment; returns the exit code.
int segment_main(const SegmentToolOptions& opt);

}  // namespace scvae
