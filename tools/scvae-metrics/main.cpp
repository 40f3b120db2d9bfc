// scvae-metrics - image quality (PSNR, MSE, SSIM, MS-SSIM, LPIPS, FID), code statistics, mask IoU/Dice.
#include <algorithm>

#include "options.h"
#include "scvae-metrics/metrics_tool.h"

static scvae::MetricsOptions parse(int argc, char** argv) {
    scvae::MetricsOptions opt;
    std::optional<std::string> metrics;
    scvae::OptionTable t("scvae-metrics",
                         "Measure reconstructions, sparse codes and masks.\n"
                         "Usage: scvae-metrics [options] REF DIST            (two folders paired by name, or two images)\n"
                         "       scvae-metrics [options] --ref-list A --dist-list B\n"
                         "       scvae-metrics [options] REF --codes CODES   (decode CODES with the model and compare)\n"
                         "       scvae-metrics [options] --codes CODES       (code statistics: sparsity, atoms, bpp)\n"
                         "       scvae-metrics [options] --masks PRED GT     (IoU and Dice of binary masks)");
    t.text("ref-list", "FILE", "file listing reference images, one per line", opt.ref_list);
    t.text("dist-list", "FILE", "file listing distorted images, paired by line with --ref-list", opt.dist_list);
    t.text("c,codes", "CODES", "code stream ('-' = stdin): statistics, or decoded and compared with REF", opt.codes);
    t.flag("masks", "compare binary masks PRED GT (IoU, Dice at 128x128)", opt.masks);
    t.text("m,model", "FILE", "model for decoding --codes (default: $SCVAE_MODEL, else the bundled model)", opt.model);
    t.flag("f,force", "decode codes made by another model (same n, K and d)", opt.force);
    t.text("metrics", "LIST", "image metrics to compute: any of psnr,mse,ssim,ms_ssim (default: all)", metrics);
    t.text("lpips-model", "FILE", "TorchScript LPIPS network: adds lpips per image", opt.lpips_model);
    t.text("fid-model", "FILE", "TorchScript feature network: adds the FID of the two sets", opt.fid_model);
    t.flag("tsv", "tab-separated table instead of JSON", opt.tsv);
    t.flag("s,summary", "one line of aggregate numbers (Table 1 style) instead of JSON", opt.summary);
    t.text("check", "CONDITIONS", "exit 1 unless every condition holds, e.g. 'psnr>=30,ssim>=0.9'", opt.check);
    scvae::common::output(t, opt.output, "write the report to FILE ('-' = stdout)");
    scvae::common::threads(t, opt.threads);
    t.text("device", "NAME", "cpu or cuda (decoding and perceptual networks)", opt.device);
    t.positional("[REF DIST | PRED GT | REF]", opt.inputs);
    t.parse(argc, argv);
    if (metrics) {
        const std::string& m = *metrics;
        for (size_t s = 0, e; s <= m.size(); s = e + 1) {
            e = std::min(m.find(',', s), m.size());
            if (e > s) opt.metrics.push_back(m.substr(s, e - s));
        }
        if (opt.metrics.empty()) throw scvae::UsageError("--metrics: no metric named");
    }
    if (opt.inputs.empty() && opt.codes.empty() && opt.ref_list.empty())
        throw scvae::UsageError("nothing to measure: give REF DIST, --ref-list/--dist-list, --codes or --masks PRED GT");
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-metrics", argc, argv, [](int c, char** v) { return scvae::metrics_main(parse(c, v)); });
}
