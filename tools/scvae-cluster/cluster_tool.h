// cluster_tool.h - scvae-cluster as a function of its options (tools/scvae-cluster/main.cpp parses them).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "scvae/cluster.h"

namespace scvae {

struct ClusterOptions {
    std::vector<std::string> inputs{"-"};
    std::string output = "-";
    bool tsv = false;
    KMeansOptions kmeans;
    bool k_given = false;
    std::optional<int> max_points;              // training sample size; none: min(all, 256 * k)
    std::optional<std::string> save_centroids;  // write the trained centroids here
    std::optional<std::string> centroids;       // assign with these centroids instead of training
    std::optional<std::string> mosaic;          // Figure 7 mosaic PNG
    std::optional<int> rows;                    // mosaic rows (clusters); none: every non-empty cluster
    int per_row = 16;                           // patches per mosaic row
    std::optional<int> patch_scale;             // integer zoom of each patch; none: patches of at least 16 px
    std::string images_dir;                     // where to look for the source images ("": as the records name them)
    bool verbose = false;                       // progress and statistics on stderr
    std::optional<int> threads;                 // OpenMP/BLAS threads; none: available_cpus()
    std::string distances = "auto";  // distance products: "dense" (BLAS), "sparse" (over the nonzeros) or "auto"
};

// Runs scvae-cluster; returns the exit code.
int cluster_main(const ClusterOptions& opt);

}  // namespace scvae
