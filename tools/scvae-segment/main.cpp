// scvae-segment - unsupervised segmentation from sparse codes (paper section 5.4, Figures 8-10).
#include <cmath>

#include "options.h"
#include "scvae-segment/segment_tool.h"

static scvae::SegmentToolOptions parse(int argc, char** argv) {
    scvae::SegmentToolOptions opt;
    std::string method = "kmeans";
    std::optional<int> k;
    scvae::OptionTable t("scvae-segment",
                         "Segment images by clustering their grid of sparse codes (k-means, or spectral clustering\n"
                         "with boundary connectivity for a foreground mask). Prints one JSON summary line per image.\n"
                         "Usage: scvae-segment [options] [CODES...]        (code stream; none or '-' reads stdin)\n"
                         "       scvae-segment [options] --model MODEL IMAGE...");
    t.choice("method", "NAME", "kmeans or spectral", method, {"kmeans", "spectral"});
    t.integer("k,classes", "K", "classes per image (default: 5 for kmeans, 2 for spectral)", k, 2, 1 << 20)
        .message_name("-k");
    t.integer("iters", "N", "k-means iterations", opt.seg.iters, 1, 100000);
    t.integer("redo", "N", "k-means restarts; the best is kept", opt.seg.redo, 1, 1000);
    t.integer("seed", "N", "random seed (k-means, noise)", opt.seg.seed, 0, 2147483647);
    t.number("bndcon-threshold", "T", "non-maximal classes with boundary connectivity above T are background",
             opt.seg.bndcon_threshold, -HUGE_VAL, HUGE_VAL);
    t.number("bandwidth", "F", "spectral: width of the Gaussian affinity, as a fraction of the median distance between "
             "a grid's codes", opt.seg.bandwidth, -HUGE_VAL, HUGE_VAL);
    t.text("m,model", "FILE", "encode IMAGE... with this model instead of reading codes", opt.model);
    t.integer("pixels", "CELL", "segment IMAGE...'s raw CELL x CELL pixel patches instead of codes (the pixel baseline)",
              opt.pixels, 1, 64);
    t.number("noise", "SIGMA", "add Gaussian noise of this sigma ([0,1] scale) to each image first (with --model)",
             opt.noise, -HUGE_VAL, HUGE_VAL);
    t.text("o,output", "PATTERN", "write the mask (spectral) or label map (kmeans) to PATTERN", opt.output);
    t.text("labels", "PATTERN", "write label maps (palette PNG: indices 0..k-1 are the classes) to PATTERN", opt.labels);
    t.text("mask", "PATTERN", "write foreground masks (0/255) to PATTERN", opt.mask);
    t.text("overlay", "PATTERN", "write the classes coloured over the image, with a legend, to PATTERN", opt.overlay);
    t.text("images", "DIR", "look for source images (for --overlay) in DIR", opt.images_dir);
    scvae::common::batch(t, opt.batch, "images per network batch");
    scvae::common::threads(t, opt.threads);
    t.positional("[CODES...|IMAGE...]", opt.inputs);
    t.parse(argc, argv);
    opt.seg.method = scvae::parse_segment_method(method);
    opt.k_given = k.has_value();
    if (k) opt.seg.k = *k;
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-segment", argc, argv, [](int c, char** v) { return scvae::segment_main(parse(c, v)); });
}
