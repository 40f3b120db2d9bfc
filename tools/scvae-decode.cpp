// scvae-decode - sparse codes to images.
#include "scvae/cli.h"
#include "scvae/codec_tools.h"

static scvae::DecodeOptions parse(int argc, char** argv) {
    cxxopts::Options o("scvae-decode", "Turn SC-VAE sparse codes back into images.\n"
                                       "Usage: scvae-decode [options] -o PATTERN [CODES...]   (stdin by default)");
    o.add_options()
        ("o,output", "output image(s): PATTERN with {stem} {name} {index} {index:N} {n}, and .png, .jpg, .ppm, .pgm, "
                     ".pnm or .pam (one netpbm file holds every record); '-' = stdout (see --format)",
         cxxopts::value<std::string>())
        ("F,format", "with -o -: png (one image; the default), jpeg, or pnm or pam (a netpbm stream of every record)",
         cxxopts::value<std::string>())
        ("m,model", "model file (default: $SCVAE_MODEL, else the bundled model)", cxxopts::value<std::string>())
        ("f,force", "decode codes made by another model (same n, K and d)")
        ("b,batch", "records per network batch", cxxopts::value<std::string>()->default_value("1"))
        ("t,threads", "CPU threads (default: every CPU this process may use)", cxxopts::value<std::string>())
        ("device", "cpu or cuda", cxxopts::value<std::string>()->default_value("cpu"))
        ("quality", "JPEG quality (1-100)", cxxopts::value<std::string>()->default_value("95"))
        ("montage", "tile every decoded record into one picture with COLS columns", cxxopts::value<std::string>())
        ("labels", "with --montage: write each record's source name under its tile")
        ("gap", "with --montage: pixels between tiles", cxxopts::value<std::string>()->default_value("2"))
        ("title", "with --montage: a header line above the tiles (repeat for more lines)",
         cxxopts::value<std::vector<std::string>>())
        ("q,quiet", "no progress count on a terminal")
        ("h,help", "show this help")
        ("version", "show the version")
        ("inputs", "code streams", cxxopts::value<std::vector<std::string>>());
    o.parse_positional({"inputs"});
    o.positional_help("[CODES...]");
    auto r = scvae::parse_or_usage(o, argc, argv);
    scvae::DecodeOptions opt;
    if (r.count("inputs")) opt.inputs = r["inputs"].as<std::vector<std::string>>();
    if (r.count("output")) opt.output = r["output"].as<std::string>();
    if (r.count("format")) opt.format = r["format"].as<std::string>();
    if (r.count("model")) opt.model = r["model"].as<std::string>();
    if (r.count("threads")) opt.threads = scvae::parse_int_option("--threads", r["threads"].as<std::string>(), 1, 4096);
    if (r.count("montage")) opt.montage_cols = scvae::parse_int_option("--montage", r["montage"].as<std::string>(), 1, 10000);
    if (r.count("labels") && !r.count("montage")) throw scvae::UsageError("--labels needs --montage");
    if (r.count("title") && !r.count("montage")) throw scvae::UsageError("--title needs --montage");
    if (r.count("title")) opt.title = r["title"].as<std::vector<std::string>>();
    opt.batch = scvae::parse_int_option("--batch", r["batch"].as<std::string>(), 1, 4096);
    opt.quality = scvae::parse_int_option("--quality", r["quality"].as<std::string>(), 1, 100);
    opt.montage_gap = scvae::parse_int_option("--gap", r["gap"].as<std::string>(), 0, 1000);
    opt.device = r["device"].as<std::string>();
    opt.force = r.count("force") > 0;
    opt.labels = r.count("labels") > 0;
    opt.quiet = r.count("quiet") > 0;
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-decode", argc, argv, [](int c, char** v) { return scvae::decode_main(parse(c, v)); });
}
