// scvae-encode - images to sparse codes.
#include "options.h"
#include "scvae-encode/encode_tool.h"

static scvae::EncodeOptions parse(int argc, char** argv) {
    scvae::EncodeOptions opt;
    scvae::OptionTable t("scvae-encode", "Turn PNG, JPEG and netpbm images into SC-VAE sparse codes (binary stream, or "
                                         "JSON Lines with --json).\n"
                                         "Usage: scvae-encode [options] IMAGE|FOLDER...   ('-' reads images from stdin)");
    scvae::common::model(t, opt.model);
    scvae::common::output(t, opt.output, "write codes to FILE ('-' = stdout)");
    t.flag("j,json", "write JSON Lines instead of the binary stream", opt.json);
    t.flag("half", "store code values as 16-bit floats", opt.half);
    scvae::common::batch(t, opt.batch, "images per network batch");
    scvae::common::threads(t, opt.threads);
    scvae::common::device(t, opt.device);
    t.text("files-from", "FILE", "read image (or folder) paths from FILE, one per line ('-' = stdin)", opt.files_from);
    t.flag("k,keep-going", "report each unreadable image, go on, and exit 1 at the end", opt.keep_going);
    t.choice("solver", "NAME", "infer the codes with ista or fista over the fixed dictionary instead of the model's LISTA",
             opt.solver, {"lista", "ista", "fista"});
    t.integer("solver-steps", "N", "iterations of --solver (default: the model's LISTA steps s)", opt.solver_steps, 1,
              1000000);
    t.custom("shard", "I/N", "encode only every N-th input starting at I (I/N, 0-based)",
             [&](const std::string& v) { opt.shard = scvae::parse_shard(v); });
    scvae::common::quiet(t, opt.quiet);
    t.positional("IMAGE|FOLDER...", opt.inputs);
    t.parse(argc, argv);
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-encode", argc, argv, [](int c, char** v) { return scvae::encode_main(parse(c, v)); });
}
