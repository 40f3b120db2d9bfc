// scvae-cluster - k-means over the grid positions' sparse code vectors (paper section 5.3, Figure 7).
#include "options.h"
#include "scvae-cluster/cluster_tool.h"

static scvae::ClusterOptions parse(int argc, char** argv) {
    scvae::ClusterOptions opt;
    scvae::OptionTable t("scvae-cluster",
                         "Cluster every grid position's sparse code vector of every record with FAISS k-means.\n"
                         "Usage: scvae-cluster [options] [CODES...]   (no CODES or '-' reads stdin)");
    t.integer("k,clusters", "K", "number of clusters", opt.kmeans.k, 1, 1 << 24).message_name("-k");
    t.integer("iters", "N", "k-means iterations", opt.kmeans.iters, 1, 100000);
    t.integer("redo", "N", "k-means runs with different seeds; the best is kept", opt.kmeans.redo, 1, 1000);
    t.integer("seed", "N", "random seed (training sample, k-means, mosaic)", opt.kmeans.seed, 0, 2147483647);
    t.integer("max-points", "N", "train on a random sample of N vectors, then assign all (default: min(all, 256*k))",
              opt.max_points, 1, 2147483647);
    t.flag("spherical", "cosine k-means: unit-norm vectors and centroids, inner product", opt.kmeans.spherical);
    scvae::common::output(t, opt.output, "write assignments to FILE ('-' = stdout)");
    t.flag("tsv", "write tab-separated values with a header instead of JSON Lines", opt.tsv);
    t.text("save-centroids", "FILE", "write the trained centroids to FILE", opt.save_centroids);
    t.text("centroids", "FILE", "assign with the centroids in FILE instead of training", opt.centroids);
    t.text("mosaic", "FILE", "draw a patch mosaic (one row per cluster, labelled with its id and size) to PNG",
           opt.mosaic);
    t.integer("rows", "N", "mosaic rows: N clusters chosen at random (default: every non-empty cluster)", opt.rows, 1,
              1 << 20);
    t.integer("per-row", "N", "patches per mosaic row", opt.per_row, 1, 10000);
    t.integer("patch-scale", "N", "integer zoom of mosaic patches (default: patches at least 16 px)", opt.patch_scale, 1,
              64);
    t.text("images", "DIR", "look for source images in DIR", opt.images_dir);
    t.choice("distances", "MODE", "distance products: dense (BLAS), sparse (over the nonzeros) or auto", opt.distances,
             {"auto", "dense", "sparse"});
    scvae::common::threads(t, opt.threads);
    t.flag("v,verbose", "progress and statistics on stderr", opt.verbose);
    t.positional("[CODES...]", opt.inputs);
    t.parse(argc, argv);
    opt.k_given = t.given("clusters");
    if (opt.centroids && (t.given("save-centroids") || t.given("max-points") || t.given("spherical")))
        throw scvae::UsageError("--centroids assigns with existing centroids: --save-centroids, --max-points and "
                                "--spherical do not apply");
    // One stream per output: the JSON Lines, the mosaic and the centroids cannot share stdout.
    int on_stdout = (opt.output == "-") + (opt.mosaic == "-") + (opt.save_centroids == "-");
    if (on_stdout > 1)
        throw scvae::UsageError("only one of -o (default: stdout), --mosaic and --save-centroids can be '-' "
                                "(standard output); give the others a FILE");
    scvae::refuse_binary_to_terminal(opt.save_centroids.value_or(""), "binary centroids",
                                     "use --save-centroids FILE or a pipe");
    scvae::refuse_binary_to_terminal(opt.mosaic.value_or(""), "a PNG image", "use --mosaic FILE.png or a pipe");
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-cluster", argc, argv, [](int c, char** v) { return scvae::cluster_main(parse(c, v)); });
}
