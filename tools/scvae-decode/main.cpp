// scvae-decode - sparse codes to images.
#include "options.h"
#include "scvae-decode/decode_tool.h"

static scvae::DecodeOptions parse(int argc, char** argv) {
    scvae::DecodeOptions opt;
    scvae::OptionTable t("scvae-decode", "Turn SC-VAE sparse codes back into images.\n"
                                         "Usage: scvae-decode [options] -o PATTERN [CODES...]   (stdin by default)");
    t.text("o,output", "PATTERN",
           "output image(s): PATTERN with {stem} {name} {index} {index:N} {n}, and .png, .jpg, .ppm, .pgm, .pnm or .pam "
           "(one netpbm file holds every record); '-' = stdout (see --format)",
           opt.output);
    t.text("F,format", "NAME",
           "with -o -: png (one image; the default), jpeg, or pnm or pam (a netpbm stream of every record)", opt.format);
    scvae::common::model(t, opt.model);
    t.flag("f,force", "decode codes made by another model (same n, K and d)", opt.force);
    scvae::common::batch(t, opt.batch, "records per network batch");
    scvae::common::threads(t, opt.threads);
    scvae::common::device(t, opt.device);
    t.integer("quality", "Q", "JPEG quality (1-100)", opt.quality, 1, 100);
    t.integer("montage", "COLS", "tile every decoded record into one picture with COLS columns", opt.montage_cols, 1,
              10000);
    t.flag("labels", "with --montage: write each record's source name under its tile", opt.labels);
    t.integer("gap", "PIXELS", "with --montage: pixels between tiles", opt.montage_gap, 0, 1000);
    t.list("title", "TEXT", "with --montage: a header line above the tiles (repeat for more lines)", opt.title);
    scvae::common::quiet(t, opt.quiet);
    t.positional("[CODES...]", opt.inputs);
    t.parse(argc, argv);
    if (t.given("labels") && !t.given("montage")) throw scvae::UsageError("--labels needs --montage");
    if (t.given("title") && !t.given("montage")) throw scvae::UsageError("--title needs --montage");
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-decode", argc, argv, [](int c, char** v) { return scvae::decode_main(parse(c, v)); });
}
