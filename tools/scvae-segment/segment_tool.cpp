// segment_tool.cpp - scvae-segment: code streams (or images, through a model or as raw pixels) to per-image
// segmentations, with masks, label maps, overlays and a JSON Lines summary.
#include "scvae-segment/segment_tool.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli.h"
#include "scvae/cluster.h"
#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/io.h"
#include "scvae/model.h"
#include "scvae/segment.h"

namespace scvae {

namespace {

struct Outputs {
    const SegmentToolOptions& opt;
    size_t count = 0;

    void check_pattern(const std::string& pattern, const std::string& option, size_t index) const {
        if (index > 0 && !pattern_has_placeholder(pattern))
            throw UsageError(option + " " + pattern +
                             ": more than one image to write; use a placeholder such as {stem} or {index}");
    }

    // A pattern without placeholders names one file: its image is held back until the input is known to hold
    // one record, so a stream of several records fails without writing anything.
    struct Held {
        std::string path;
        Image img;
        WriteOptions wo;
    };
    std::vector<Held> held;

    // `wo` carries the class palette of label maps (a palette PNG; JPEG ignores it).
    void put(const std::string& pattern, const CodeRecord& rec, size_t index, Image img, const WriteOptions& wo = {}) {
        if (pattern_has_placeholder(pattern))
            write_image(expand_pattern(pattern, rec.source, index), img, wo);
        else
            held.push_back({pattern, std::move(img), wo});
    }

    void finish() {
        for (auto& h : held) write_image(h.path, h.img, h.wo);
        held.clear();
    }

    void handle(const CodeRecord& rec, const Image* image) {
        const size_t index = count++;
        Segmentation s = segment_codes(rec, opt.seg);
        WriteOptions labels_wo;
        if (s.k <= 256) labels_wo.png_palette = class_palette(s.k);
        std::string out_main = opt.output;
        if (!out_main.empty()) {
            check_pattern(out_main, "-o", index);
            if (opt.seg.method == SegmentMethod::Spectral)
                put(out_main, rec, index, mask_image(s, rec));
            else
                put(out_main, rec, index, label_map_image(s, rec), labels_wo);
        }
        if (!opt.labels.empty()) {
            check_pattern(opt.labels, "--labels", index);
            put(opt.labels, rec, index, label_map_image(s, rec), labels_wo);
        }
        if (!opt.mask.empty()) {
            check_pattern(opt.mask, "--mask", index);
            put(opt.mask, rec, index, mask_image(s, rec));
        }
        if (!opt.overlay.empty()) {
            check_pattern(opt.overlay, "--overlay", index);
            Image loaded;
            if (!image) {
                loaded = read_image(find_source_image(rec.source, opt.images_dir, "overlay"));
                image = &loaded;
            }
            put(opt.overlay, rec, index, overlay_image(*image, s, rec));
        }
        nlohmann::json j = segmentation_summary(s, rec, index);
        if (opt.noise > 0) j["noise"] = opt.noise;
        std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fflush(stdout);
    }
};

void check_output_names(const SegmentToolOptions& opt) {
    for (const auto* p : {&opt.output, &opt.labels, &opt.mask, &opt.overlay}) {
        if (p->empty()) continue;
        if (*p == "-") throw UsageError("image outputs need a file name pattern, not '-' (stdout carries the summary)");
        if (image_format_from_name(expand_pattern(*p, "x", 0)) == ImageFormat::Unknown)
            throw UsageError(unknown_extension_message(*p));
    }
}

}  // namespace

int segment_main(const SegmentToolOptions& in) {
    SegmentToolOptions opt = in;
    if (!opt.k_given) opt.seg.k = opt.seg.method == SegmentMethod::Spectral ? 2 : 5;
    if (opt.seg.k < 2) throw UsageError("-k must be at least 2");
    if (opt.noise < 0) throw UsageError("--noise must not be negative");
    if (opt.noise > 0 && !opt.model && !opt.pixels)
        throw UsageError("--noise needs images as input (--model MODEL IMAGE... or --pixels CELL IMAGE...), not a code "
                         "stream");
    if (opt.pixels && opt.model)
        throw UsageError("--pixels segments the images' pixels: --model does not apply");
    if (opt.batch < 1) throw UsageError("--batch must be at least 1");
    check_output_names(opt);
    protect_inputs(opt.inputs);
    set_threads(opt.threads.value_or(0));
    set_faiss_threads(opt.threads.value_or(0));
    Outputs out{opt, 0, {}};
    if (opt.pixels) {
        if (opt.inputs.empty()) throw UsageError("--pixels needs images to segment (IMAGE...)");
        if (opt.inputs.size() > 1)
            for (const auto& [p, name] : {std::pair{&opt.output, "-o"}, {&opt.labels, "--labels"},
                                          {&opt.mask, "--mask"}, {&opt.overlay, "--overlay"}})
                if (!p->empty()) out.check_pattern(*p, name, 1);
        for (size_t i = 0; i < opt.inputs.size(); ++i) {
            Image img = read_image(opt.inputs[i]);
            if (opt.noise > 0) {
                img = to_rgb(img);
                add_gaussian_noise(img, opt.noise, opt.seg.seed + i);
            }
            out.handle(pixel_record(img, *opt.pixels, opt.inputs[i]), &img);
        }
    } else if (!opt.model) {
        std::vector<std::string> inputs = opt.inputs;
        if (inputs.empty()) {
            if (is_terminal(STDIN_FILENO))
                throw UsageError("no input: pipe a code stream in (scvae-encode ... | scvae-segment), give code "
                                 "files, or images with --model");
            inputs.push_back("-");
        }
        for_each_record(inputs, [&](const CodeRecord& rec, const std::string&) { out.handle(rec, nullptr); });
        if (out.count == 0) throw Error(input_names(inputs) + ": no code records (empty stream)");
    } else {
        if (opt.inputs.empty()) throw UsageError("--model needs images to segment (IMAGE...)");
        if (opt.inputs.size() > 1)
            for (const auto& [p, name] : {std::pair{&opt.output, "-o"}, {&opt.labels, "--labels"},
                                          {&opt.mask, "--mask"}, {&opt.overlay, "--overlay"}})
                if (!p->empty()) out.check_pattern(*p, name, 1);
        Codec codec = Codec::load(*opt.model);
        for (size_t start = 0; start < opt.inputs.size(); start += static_cast<size_t>(opt.batch)) {
            std::vector<Image> images;
            std::vector<std::string> names;
            for (size_t i = start; i < opt.inputs.size() && i < start + static_cast<size_t>(opt.batch); ++i) {
                Image img = read_image(opt.inputs[i]);
                if (opt.noise > 0) {
                    img = to_rgb(img);
                    add_gaussian_noise(img, opt.noise, opt.seg.seed + i);
                }
                images.push_back(std::move(img));
                names.push_back(opt.inputs[i]);
            }
            std::vector<CodeRecord> recs = codec.encode(images, names);
            for (size_t i = 0; i < recs.size(); ++i) out.handle(recs[i], &images[i]);
        }
    }
    out.finish();
    return kExitOk;
}

}  // namespace scvae
