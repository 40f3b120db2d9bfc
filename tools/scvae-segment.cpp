// scvae-segment - unsupervised segmentation from sparse codes (paper section 5.4, Figures 8-10).
#include "scvae/cli.h"
#include "scvae/segment.h"

static scvae::SegmentToolOptions parse(int argc, char** argv) {
    cxxopts::Options o("scvae-segment",
                       "Segment images by clustering their grid of sparse codes (k-means, or spectral clustering\n"
                       "with boundary connectivity for a foreground mask). Prints one JSON summary line per image.\n"
                       "Usage: scvae-segment [options] [CODES...]        (code stream; none or '-' reads stdin)\n"
                       "       scvae-segment [options] --model MODEL IMAGE...");
    o.add_options()
        ("method", "kmeans or spectral", cxxopts::value<std::string>()->default_value("kmeans"))
        ("k,classes", "classes per image (default: 5 for kmeans, 2 for spectral)", cxxopts::value<std::string>())
        ("iters", "k-means iterations", cxxopts::value<std::string>()->default_value("25"))
        ("redo", "k-means restarts; the best is kept", cxxopts::value<std::string>()->default_value("5"))
        ("seed", "random seed (k-means, noise)", cxxopts::value<std::string>()->default_value("1234"))
        ("bndcon-threshold", "non-maximal classes with boundary connectivity above T are background",
         cxxopts::value<std::string>())
        ("m,model", "encode IMAGE... with this model instead of reading codes", cxxopts::value<std::string>())
        ("pixels", "segment IMAGE...'s raw CELL x CELL pixel patches instead of codes (the pixel baseline)",
         cxxopts::value<std::string>())
        ("noise", "add Gaussian noise of this sigma ([0,1] scale) to each image first (with --model)",
         cxxopts::value<std::string>())
        ("o,output", "write the mask (spectral) or label map (kmeans) to PATTERN", cxxopts::value<std::string>())
        ("labels", "write label maps (palette PNG: indices 0..k-1 are the classes) to PATTERN", cxxopts::value<std::string>())
        ("mask", "write foreground masks (0/255) to PATTERN", cxxopts::value<std::string>())
        ("overlay", "write the classes coloured over the image, with a legend, to PATTERN", cxxopts::value<std::string>())
        ("images", "look for source images (for --overlay) in DIR", cxxopts::value<std::string>())
        ("b,batch", "images per network batch", cxxopts::value<std::string>()->default_value("1"))
        ("t,threads", "CPU threads (default: every CPU this process may use)", cxxopts::value<std::string>())
        ("h,help", "show this help")
        ("version", "show the version")
        ("inputs", "code streams or images", cxxopts::value<std::vector<std::string>>());
    o.parse_positional({"inputs"});
    o.positional_help("[CODES...|IMAGE...]");
    auto r = scvae::parse_or_usage(o, argc, argv);
    auto str = [&](const char* name) { return r[name].as<std::string>(); };
    scvae::SegmentToolOptions opt;
    if (r.count("inputs")) opt.inputs = r["inputs"].as<std::vector<std::string>>();
    opt.seg.method = scvae::parse_segment_method(str("method"));
    if (r.count("classes")) {
        opt.seg.k = scvae::parse_int_option("-k", str("classes"), 2, 1 << 20);
        opt.k_given = true;
    }
    opt.seg.iters = scvae::parse_int_option("--iters", str("iters"), 1, 100000);
    opt.seg.redo = scvae::parse_int_option("--redo", str("redo"), 1, 1000);
    opt.seg.seed = static_cast<uint64_t>(scvae::parse_int_option("--seed", str("seed"), 0, 2147483647));
    if (r.count("bndcon-threshold"))
        opt.seg.bndcon_threshold = scvae::parse_double_option("--bndcon-threshold", str("bndcon-threshold"));
    if (r.count("model")) opt.model = str("model");
    if (r.count("pixels")) opt.pixels = scvae::parse_int_option("--pixels", str("pixels"), 1, 64);
    if (r.count("noise")) opt.noise = scvae::parse_double_option("--noise", str("noise"));
    if (r.count("output")) opt.output = str("output");
    if (r.count("labels")) opt.labels = str("labels");
    if (r.count("mask")) opt.mask = str("mask");
    if (r.count("overlay")) opt.overlay = str("overlay");
    if (r.count("images")) opt.images_dir = str("images");
    opt.batch = scvae::parse_int_option("--batch", str("batch"), 1, 4096);
    if (r.count("threads")) opt.threads = scvae::parse_int_option("--threads", str("threads"), 1, 4096);
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-segment", argc, argv, [](int c, char** v) { return scvae::segment_main(parse(c, v)); });
}
