// scvae-encode - images to sparse codes.
#include "scvae/cli.h"
#include "scvae/codec_tools.h"

static scvae::EncodeOptions parse(int argc, char** argv) {
    cxxopts::Options o("scvae-encode", "Turn PNG, JPEG and netpbm images into SC-VAE sparse codes (binary stream, or JSON "
                                       "Lines with --json).\n"
                                       "Usage: scvae-encode [options] IMAGE|FOLDER...   ('-' reads images from stdin)");
    o.add_options()
        ("m,model", "model file (default: $SCVAE_MODEL, else the bundled model)", cxxopts::value<std::string>())
        ("o,output", "write codes to FILE ('-' = stdout)", cxxopts::value<std::string>()->default_value("-"))
        ("j,json", "write JSON Lines instead of the binary stream")
        ("half", "store code values as 16-bit floats")
        ("b,batch", "images per network batch", cxxopts::value<std::string>()->default_value("1"))
        ("t,threads", "CPU threads (default: every CPU this process may use)", cxxopts::value<std::string>())
        ("device", "cpu or cuda", cxxopts::value<std::string>()->default_value("cpu"))
        ("files-from", "read image (or folder) paths from FILE, one per line ('-' = stdin)", cxxopts::value<std::string>())
        ("k,keep-going", "report each unreadable image, go on, and exit 1 at the end")
        ("solver", "infer the codes with ista or fista over the fixed dictionary instead of the model's LISTA", cxxopts::value<std::string>())
        ("solver-steps", "iterations of --solver (default: the model's LISTA steps s)", cxxopts::value<std::string>())
        ("shard", "encode only every N-th input starting at I (I/N, 0-based)", cxxopts::value<std::string>())
        ("q,quiet", "no progress count on a terminal")
        ("h,help", "show this help")
        ("version", "show the version")
        ("inputs", "images", cxxopts::value<std::vector<std::string>>());
    o.parse_positional({"inputs"});
    o.positional_help("IMAGE|FOLDER...");
    auto r = scvae::parse_or_usage(o, argc, argv);
    scvae::EncodeOptions opt;
    if (r.count("inputs")) opt.inputs = r["inputs"].as<std::vector<std::string>>();
    if (r.count("model")) opt.model = r["model"].as<std::string>();
    if (r.count("files-from")) opt.files_from = r["files-from"].as<std::string>();
    if (r.count("threads")) opt.threads = scvae::parse_int_option("--threads", r["threads"].as<std::string>(), 1, 4096);
    if (r.count("shard")) opt.shard = scvae::parse_shard(r["shard"].as<std::string>());
    if (r.count("solver")) {
        opt.solver = r["solver"].as<std::string>();
        if (opt.solver != "lista" && opt.solver != "ista" && opt.solver != "fista")
            throw scvae::UsageError("--solver: expected lista, ista or fista, got '" + opt.solver + "'");
    }
    if (r.count("solver-steps")) opt.solver_steps = scvae::parse_int_option("--solver-steps", r["solver-steps"].as<std::string>(), 1, 1000000);
    opt.output = r["output"].as<std::string>();
    opt.batch = scvae::parse_int_option("--batch", r["batch"].as<std::string>(), 1, 4096);
    opt.device = r["device"].as<std::string>();
    opt.json = r.count("json") > 0;
    opt.half = r.count("half") > 0;
    opt.keep_going = r.count("keep-going") > 0;
    opt.quiet = r.count("quiet") > 0;
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-encode", argc, argv, [](int c, char** v) { return scvae::encode_main(parse(c, v)); });
}
