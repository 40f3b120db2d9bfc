// segment_set - helper of the segmentation evaluation (scripts/make-segmentation-set.sh, examples/segment.mk).
//
//   segment_set composite --backgrounds LIST --stamps LIST --out DIR [-n N] [--seed S] [--size PX]
//       Builds N foreground/background test images with exact masks: photographed cut-outs with an alpha
//       channel (LIST of PNG files) composited over photos (LIST of PNG/JPEG files). Image i takes background
//       i mod B (of a seeded shuffle) as a random square crop (60-100 % of the short side) resized to PX x PX,
//       and a random cut-out cropped to its alpha bounding box, scaled so its longer side is 35-65 % of PX,
//       maybe mirrored, placed entirely inside at a random position. Writes DIR/images/NNNN.png,
//       DIR/masks/NNNN.png (255 where the cut-out's alpha >= 0.5, else 0) and DIR/manifest.tsv. Deterministic.
//   segment_set plot --tsv FILE --out PNG [--title T] [--xlabel X]
//       Line plot of a sweep: FILE has a header and columns x, y1, y2... (e.g. sigma, iou, dice); every y
//       column is drawn against x on a [0,1] axis with ticks, grid and labels, in scvae's own Image and font.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/io.h"
#include "scvae/montage.h"

using namespace scvae;

namespace {

std::string arg_value(int& i, int argc, char** argv) {
    if (i + 1 >= argc) throw UsageError(std::string(argv[i]) + " needs a value");
    return argv[++i];
}

int composite(int argc, char** argv) {
    std::string bg_list, stamp_list, out;
    int n = 60, size = 256;
    uint64_t seed = 1;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--backgrounds") bg_list = arg_value(i, argc, argv);
        else if (a == "--stamps") stamp_list = arg_value(i, argc, argv);
        else if (a == "--out") out = arg_value(i, argc, argv);
        else if (a == "-n") n = std::stoi(arg_value(i, argc, argv));
        else if (a == "--seed") seed = std::stoull(arg_value(i, argc, argv));
        else if (a == "--size") size = std::stoi(arg_value(i, argc, argv));
        else throw UsageError("unknown option " + a);
    }
    if (bg_list.empty() || stamp_list.empty() || out.empty())
        throw UsageError("composite needs --backgrounds LIST --stamps LIST --out DIR");
    std::vector<std::string> bgs = read_list_file(bg_list), stamps = read_list_file(stamp_list);
    if (bgs.empty() || stamps.empty()) throw Error("no backgrounds or no cut-outs listed");
    std::mt19937_64 rng(seed);
    auto uni = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
    std::shuffle(bgs.begin(), bgs.end(), rng);
    std::ofstream manifest(out + "/manifest.tsv");
    manifest << "image\tbackground\tcutout\tx\ty\twidth\theight\tforeground_fraction\n";
    for (int i = 0; i < n; ++i) {
        const std::string& bgp = bgs[static_cast<size_t>(i) % bgs.size()];
        Image bg = to_rgb(read_image(bgp));
        int side = static_cast<int>(std::min(bg.width, bg.height) * uni(0.6, 1.0));
        side = std::max(1, side);
        int bx = static_cast<int>(uni(0, bg.width - side + 1)), by = static_cast<int>(uni(0, bg.height - side + 1));
        bx = std::min(bx, bg.width - side);
        by = std::min(by, bg.height - side);
        Image canvas = resize_bilinear(crop(bg, bx, by, side, side), size, size);
        // A cut-out with a usable alpha channel (retry others when one has none).
        Image st;
        std::string stp;
        int x0 = 0, y0 = 0, x1 = -1, y1 = -1;
        for (int tries = 0; tries < 50 && x1 < 0; ++tries) {
            stp = stamps[rng() % stamps.size()];
            st = read_image(stp);
            if (st.channels != 2 && st.channels != 4) continue;
            const int ac = st.channels - 1;
            x0 = st.width, y0 = st.height, x1 = -1, y1 = -1;
            for (int y = 0; y < st.height; ++y)
                for (int x = 0; x < st.width; ++x)
                    if (st.at(y, x, ac) >= 0.5f) {
                        x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
                    }
        }
        if (x1 < 0) throw Error("no cut-out with an alpha channel found among the listed files");
        st = crop(st, x0, y0, x1 - x0 + 1, y1 - y0 + 1);
        if (st.channels == 2) {  // gray+alpha -> RGBA
            Image c;
            c.width = st.width, c.height = st.height, c.channels = 4;
            c.data.resize(c.pixels() * 4);
            for (size_t p = 0; p < st.pixels(); ++p) {
                for (int k = 0; k < 3; ++k) c.data[p * 4 + k] = st.data[p * 2];
                c.data[p * 4 + 3] = st.data[p * 2 + 1];
            }
            st = std::move(c);
        }
        double longer = size * uni(0.35, 0.65);
        double sc = longer / std::max(st.width, st.height);
        int sw = std::max(4, static_cast<int>(std::lround(st.width * sc)));
        int sh = std::max(4, static_cast<int>(std::lround(st.height * sc)));
        sw = std::min(sw, size), sh = std::min(sh, size);
        // Premultiplied resize so colours under transparent pixels do not bleed.
        for (size_t p = 0; p < st.pixels(); ++p)
            for (int k = 0; k < 3; ++k) st.data[p * 4 + k] *= st.data[p * 4 + 3];
        st = resize_bilinear(st, sw, sh);
        bool mirror = (rng() & 1) != 0;
        int px = static_cast<int>(uni(0, size - sw + 1)), py = static_cast<int>(uni(0, size - sh + 1));
        px = std::min(px, size - sw), py = std::min(py, size - sh);
        Image mask;
        mask.width = mask.height = size;
        mask.channels = 1;
        mask.data.assign(mask.pixels(), 0.f);
        size_t fg = 0;
        for (int y = 0; y < sh; ++y)
            for (int x = 0; x < sw; ++x) {
                int sx = mirror ? sw - 1 - x : x;
                float a = std::clamp(st.at(y, sx, 3), 0.f, 1.f);
                for (int k = 0; k < 3; ++k) {
                    float& v = canvas.at(py + y, px + x, k);
                    v = std::clamp(st.at(y, sx, k) + (1 - a) * v, 0.f, 1.f);
                }
                if (a >= 0.5f) {
                    mask.at(py + y, px + x, 0) = 1.f;
                    ++fg;
                }
            }
        char name[32];
        std::snprintf(name, sizeof name, "%04d.png", i);
        write_image(out + "/images/" + name, canvas);
        write_image(out + "/masks/" + name, mask);
        manifest << name << '\t' << bgp << '\t' << stp << '\t' << px << '\t' << py << '\t' << sw << '\t' << sh << '\t'
                 << static_cast<double>(fg) / static_cast<double>(mask.pixels()) << '\n';
    }
    if (!manifest) throw Error(out + "/manifest.tsv: write error");
    return 0;
}

// ---- plot ----

// plot --tsv FILE --out PNG: the first column is x, every other column a series in [0, 1] (scvae::plot_lines).
int plot(int argc, char** argv) {
    std::string tsv, out, title = "Mean IoU / Dice vs noise", xlabel = "noise sigma (0..1 scale)";
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--tsv") tsv = arg_value(i, argc, argv);
        else if (a == "--out") out = arg_value(i, argc, argv);
        else if (a == "--title") title = arg_value(i, argc, argv);
        else if (a == "--xlabel") xlabel = arg_value(i, argc, argv);
        else throw UsageError("unknown option " + a);
    }
    if (tsv.empty() || out.empty()) throw UsageError("plot needs --tsv FILE --out PNG");
    std::ifstream in(tsv);
    if (!in) throw Error(tsv + ": cannot open");
    std::string header;
    std::getline(in, header);
    std::vector<std::string> names;
    {
        std::istringstream hs(header);
        std::string h;
        while (std::getline(hs, h, '\t')) names.push_back(h);
    }
    if (names.size() < 2) throw Error(tsv + ": need a header with x and at least one y column");
    std::vector<std::vector<double>> cols(names.size());
    std::string row;
    while (std::getline(in, row)) {
        if (row.empty()) continue;
        std::istringstream rs(row);
        for (size_t c = 0; c < names.size(); ++c) {
            std::string v;
            if (!std::getline(rs, v, '\t')) throw Error(tsv + ": short row '" + row + "'");
            cols[c].push_back(std::stod(v));
        }
    }
    if (cols[0].empty()) throw Error(tsv + ": no data rows");
    LinePlot plot;
    plot.width = 800;
    plot.height = 520;
    plot.title = title;
    plot.x_label = xlabel;
    PlotPanel panel{"", false, 0.0, 1.0, {}};
    static const std::array<float, 3> colours[4] = {{0.12f, 0.47f, 0.71f}, {0.84f, 0.15f, 0.16f},
                                                    {0.17f, 0.63f, 0.17f}, {1.0f, 0.5f, 0.05f}};
    for (size_t c = 1; c < cols.size(); ++c) {
        PlotSeries sr;
        sr.name = names[c];
        sr.x = cols[0];
        sr.y = cols[c];
        sr.colour = colours[(c - 1) % 4];
        sr.width = 3;
        sr.dots = true;
        panel.series.push_back(std::move(sr));
    }
    plot.panels.push_back(std::move(panel));
    const Image img = plot_lines(plot);
    write_image(out, img);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        std::string cmd = argc > 1 ? argv[1] : "";
        if (cmd == "composite") return composite(argc, argv);
        if (cmd == "plot") return plot(argc, argv);
        std::fprintf(stderr, "usage: segment_set composite --backgrounds LIST --stamps LIST --out DIR [-n N] [--seed S] "
                             "[--size PX]\n       segment_set plot --tsv FILE --out PNG [--title T] [--xlabel X]\n");
        return 2;
    } catch (const UsageError& e) {
        std::fprintf(stderr, "segment_set: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "segment_set: %s\n", e.what());
        return 1;
    }
}
