// metrics_tool.h - scvae-metrics as a function of its options (modes and output: man/scvae-metrics.1).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "scvae/metrics.h"

namespace scvae {

struct MetricsOptions {
    std::vector<std::string> inputs;  // REF DIST (folders or image files); PRED GT with `masks`; REF with `codes`
    std::string ref_list, dist_list;  // two list files (one path per line), paired by line
    std::string codes;                // code stream: statistics alone, or decoded and compared with REF
    bool masks = false;               // IoU/Dice of binary masks instead of image quality
    std::optional<std::string> model;  // for decoding `codes` (none: default_model_path())
    bool force = false;               // decode codes of another model with the same n, K, d
    std::string device = "cpu";
    std::string lpips_model, fid_model;  // user-supplied TorchScript networks
    std::vector<std::string> metrics;    // subset of psnr,mse,ssim,ms_ssim (empty = all)
    bool tsv = false;
    bool summary = false;  // one human-readable line (Table 1 style) instead of JSON
    std::string check;     // "psnr>=30,ssim>=0.9"
    std::string output = "-";
    std::optional<int> threads;  // none: every CPU the process may use
};

// A parsed --check condition.
struct MetricCheck {
    std::string metric;
    std::string op;  // ">=", "<=", ">", "<", "=="
    double value = 0;
};
std::vector<MetricCheck> parse_checks(const std::string& spec);  // throws UsageError
bool check_passes(const MetricCheck& c, double value);

int metrics_main(const MetricsOptions& opt);

}  // namespace scvae
