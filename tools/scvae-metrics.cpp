// scvae-metrics - image quality (PSNR, MSE, SSIM, MS-SSIM, LPIPS, FID), code statistics, mask IoU/Dice.
#include "scvae/cli.h"
#include "scvae/error.h"
#include "scvae/metrics.h"

static scvae::MetricsOptions parse(int argc, char** argv) {
    cxxopts::Options o("scvae-metrics",
                       "Measure reconstructions, sparse codes and masks.\n"
                       "Usage: scvae-metrics [options] REF DIST            (two folders paired by name, or two images)\n"
                       "       scvae-metrics [options] --ref-list A --dist-list B\n"
                       "       scvae-metrics [options] REF --codes CODES   (decode CODES with the model and compare)\n"
                       "       scvae-metrics [options] --codes CODES       (code statistics: sparsity, atoms, bpp)\n"
                       "       scvae-metrics [options] --masks PRED GT     (IoU and Dice of binary masks)");
    o.add_options()
        ("ref-list", "file listing reference images, one per line", cxxopts::value<std::string>())
        ("dist-list", "file listing distorted images, paired by line with --ref-list", cxxopts::value<std::string>())
        ("c,codes", "code stream ('-' = stdin): statistics, or decoded and compared with REF", cxxopts::value<std::string>())
        ("masks", "compare binary masks PRED GT (IoU, Dice at 128x128)")
        ("m,model", "model for decoding --codes (default: $SCVAE_MODEL, else the bundled model)", cxxopts::value<std::string>())
        ("f,force", "decode codes made by another model (same n, K and d)")
        ("metrics", "image metrics to compute: any of psnr,mse,ssim,ms_ssim (default: all)", cxxopts::value<std::string>())
        ("lpips-model", "TorchScript LPIPS network: adds lpips per image", cxxopts::value<std::string>())
        ("fid-model", "TorchScript feature network: adds the FID of the two sets", cxxopts::value<std::string>())
        ("tsv", "tab-separated table instead of JSON")
        ("s,summary", "one line of aggregate numbers (Table 1 style) instead of JSON")
        ("check", "exit 1 unless every condition holds, e.g. 'psnr>=30,ssim>=0.9'", cxxopts::value<std::string>())
        ("o,output", "write the report to FILE (default: stdout)", cxxopts::value<std::string>())
        ("t,threads", "CPU threads (default: every CPU this process may use)", cxxopts::value<std::string>())
        ("device", "cpu or cuda (decoding and perceptual networks)", cxxopts::value<std::string>()->default_value("cpu"))
        ("h,help", "show this help")
        ("version", "show the version")
        ("inputs", "folders or images", cxxopts::value<std::vector<std::string>>());
    o.parse_positional({"inputs"});
    o.positional_help("[REF DIST | PRED GT | REF]");
    auto r = scvae::parse_or_usage(o, argc, argv);
    scvae::MetricsOptions opt;
    if (r.count("inputs")) opt.inputs = r["inputs"].as<std::vector<std::string>>();
    auto str = [&](const char* k, std::string& dst) { if (r.count(k)) dst = r[k].as<std::string>(); };
    str("ref-list", opt.ref_list);
    str("dist-list", opt.dist_list);
    str("codes", opt.codes);
    str("model", opt.model);
    str("lpips-model", opt.lpips_model);
    str("fid-model", opt.fid_model);
    str("check", opt.check);
    opt.output = r.count("output") ? r["output"].as<std::string>() : "-";
    opt.device = r["device"].as<std::string>();
    if (r.count("metrics")) {
        const std::string m = r["metrics"].as<std::string>();
        for (size_t s = 0, e; s <= m.size(); s = e + 1) {
            e = std::min(m.find(',', s), m.size());
            if (e > s) opt.metrics.push_back(m.substr(s, e - s));
        }
        if (opt.metrics.empty()) throw scvae::UsageError("--metrics: no metric named");
    }
    if (r.count("threads")) opt.threads = scvae::parse_int_option("--threads", r["threads"].as<std::string>(), 1, 4096);
    opt.masks = r.count("masks") > 0;
    opt.force = r.count("force") > 0;
    opt.tsv = r.count("tsv") > 0;
    opt.summary = r.count("summary") > 0;
    if (opt.inputs.empty() && opt.codes.empty() && opt.ref_list.empty())
        throw scvae::UsageError("nothing to measure: give REF DIST, --ref-list/--dist-list, --codes or --masks PRED GT");
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-metrics", argc, argv, [](int c, char** v) { return scvae::metrics_main(parse(c, v)); });
}
