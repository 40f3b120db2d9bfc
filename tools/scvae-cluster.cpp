// scvae-cluster - k-means over the grid positions' sparse code vectors (paper section 5.3, Figure 7).
#include "scvae/cli.h"
#include "scvae/cluster.h"
#include "scvae/io.h"

static scvae::ClusterOptions parse(int argc, char** argv) {
    cxxopts::Options o("scvae-cluster",
                       "Cluster every grid position's sparse code vector of every record with FAISS k-means.\n"
                       "Usage: scvae-cluster [options] [CODES...]   (no CODES or '-' reads stdin)");
    o.add_options()
        ("k,clusters", "number of clusters", cxxopts::value<std::string>()->default_value("8"))
        ("iters", "k-means iterations", cxxopts::value<std::string>()->default_value("25"))
        ("redo", "k-means runs with different seeds; the best is kept", cxxopts::value<std::string>()->default_value("1"))
        ("seed", "random seed (training sample, k-means, mosaic)", cxxopts::value<std::string>()->default_value("1234"))
        ("max-points", "train on a random sample of N vectors, then assign all (default: min(all, 256*k))",
         cxxopts::value<std::string>())
        ("spherical", "cosine k-means: unit-norm vectors and centroids, inner product")
        ("o,output", "write assignments to FILE ('-' = stdout)", cxxopts::value<std::string>()->default_value("-"))
        ("tsv", "write tab-separated values with a header instead of JSON Lines")
        ("save-centroids", "write the trained centroids to FILE", cxxopts::value<std::string>())
        ("centroids", "assign with the centroids in FILE instead of training", cxxopts::value<std::string>())
        ("mosaic", "draw a patch mosaic (one row per cluster, labelled with its id and size) to PNG", cxxopts::value<std::string>())
        ("rows", "mosaic rows: N clusters chosen at random (default: every non-empty cluster)",
         cxxopts::value<std::string>())
        ("per-row", "patches per mosaic row", cxxopts::value<std::string>()->default_value("16"))
        ("patch-scale", "integer zoom of mosaic patches (default: patches at least 16 px)", cxxopts::value<std::string>())
        ("images", "look for source images in DIR", cxxopts::value<std::string>())
        ("distances", "distance products: dense (BLAS), sparse (over the nonzeros) or auto", cxxopts::value<std::string>()->default_value("auto"))
        ("t,threads", "CPU threads (default: every CPU this process may use)", cxxopts::value<std::string>())
        ("v,verbose", "progress and statistics on stderr")
        ("h,help", "show this help")
        ("version", "show the version")
        ("inputs", "code streams", cxxopts::value<std::vector<std::string>>());
    o.parse_positional({"inputs"});
    o.positional_help("[CODES...]");
    auto r = scvae::parse_or_usage(o, argc, argv);
    scvae::ClusterOptions opt;
    auto str = [&](const char* name) { return r[name].as<std::string>(); };
    if (r.count("inputs")) opt.inputs = r["inputs"].as<std::vector<std::string>>();
    opt.kmeans.k = scvae::parse_int_option("-k", str("clusters"), 1, 1 << 24);
    opt.k_given = r.count("clusters") > 0;
    opt.kmeans.iters = scvae::parse_int_option("--iters", str("iters"), 1, 100000);
    opt.kmeans.redo = scvae::parse_int_option("--redo", str("redo"), 1, 1000);
    opt.kmeans.seed = static_cast<uint64_t>(scvae::parse_int_option("--seed", str("seed"), 0, 2147483647));
    opt.kmeans.spherical = r.count("spherical") > 0;
    if (r.count("max-points"))
        opt.max_points = static_cast<size_t>(scvae::parse_int_option("--max-points", str("max-points"), 1, 2147483647));
    opt.output = str("output");
    opt.tsv = r.count("tsv") > 0;
    if (r.count("save-centroids")) opt.save_centroids = str("save-centroids");
    if (r.count("centroids")) opt.centroids = str("centroids");
    if (r.count("mosaic")) opt.mosaic = str("mosaic");
    if (r.count("rows")) opt.rows = scvae::parse_int_option("--rows", str("rows"), 1, 1 << 20);
    opt.per_row = scvae::parse_int_option("--per-row", str("per-row"), 1, 10000);
    if (r.count("patch-scale")) opt.patch_scale = scvae::parse_int_option("--patch-scale", str("patch-scale"), 1, 64);
    if (r.count("images")) opt.images_dir = str("images");
    if (r.count("threads")) opt.threads = scvae::parse_int_option("--threads", str("threads"), 1, 4096);
    opt.distances = str("distances");
    if (opt.distances != "auto" && opt.distances != "dense" && opt.distances != "sparse")
        throw scvae::UsageError("--distances: expected auto, dense or sparse, not '" + opt.distances + "'");
    opt.verbose = r.count("verbose") > 0;
    opt.kmeans.verbose = false;
    if (!opt.centroids.empty() && (r.count("save-centroids") || r.count("max-points") || r.count("spherical")))
        throw scvae::UsageError("--centroids assigns with existing centroids: --save-centroids, --max-points and "
                                "--spherical do not apply");
    // One stream per output: the JSON Lines, the mosaic and the centroids cannot share stdout.
    int on_stdout = (opt.output == "-") + (opt.mosaic == "-") + (opt.save_centroids == "-");
    if (on_stdout > 1)
        throw scvae::UsageError("only one of -o (default: stdout), --mosaic and --save-centroids can be '-' "
                                "(standard output); give the others a FILE");
    scvae::refuse_binary_to_terminal(opt.save_centroids, "binary centroids", "use --save-centroids FILE or a pipe");
    scvae::refuse_binary_to_terminal(opt.mosaic, "a PNG image", "use --mosaic FILE.png or a pipe");
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-cluster", argc, argv, [](int c, char** v) { return scvae::cluster_main(parse(c, v)); });
}
