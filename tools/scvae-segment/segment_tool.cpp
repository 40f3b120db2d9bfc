// segment_tool.cpp - scvae-segment: code streams (or images, through a model or as raw pixels) to per-image
// segmentations, with masks, label maps, overlays and a JSON Lines summary.
#include "scvae-segment/segment_tool.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <optional>

#include "cli.h"
#include "scvae/cluster.h"
#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/io.h"
#include "scvae/model.h"
#include "scvae/segment.h"
#include "worker_pool.h"

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

    void handle(const CodeRecord& rec, const Image* image) { write(rec, image, segment_codes(rec, opt.seg)); }

    // The outputs of one record, segmented already (in input order: `count` numbers them).
    void write(const CodeRecord& rec, const Image* image, const Segmentation& s) {
        const size_t index = count++;
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
        if (opt.seg.method == SegmentMethod::Spectral) j["bandwidth"] = opt.seg.bandwidth;
        if (opt.noise > 0) j["noise"] = opt.noise;
        std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        std::fwrite(line.data(), 1, line.size(), stdout);
        std::fflush(stdout);
    }
};

// One record to write: the codes (their header names the outputs), the image they came from (for overlays and
// the noise), and its segmentation.
struct Segmented {
    CodeRecord rec;
    std::optional<Image> image;
    Segmentation seg;
};

// Records segmented on image workers (one per CPU, one thread each) and written here in input order, or, with
// one worker, each one segmented and written in turn. One 32x32 grid is too small a problem for two threads
// (the clustering runs on one, SingleThreaded in spectral.cpp, while the other core waited), and an image's
// encoding at batch 1 keeps two intra-op threads only partly busy; two images at a time keep both cores busy.
class SegmentQueue {
public:
    SegmentQueue(Outputs& out, int workers) : out_(out), workers_(workers) {
        if (workers_ > 1) {
            set_threads(1);
            pool_.emplace(workers_);
        }
    }

    // Runs `job` (which makes one record, with or without its image, and segments it) and writes its outputs.
    void push(std::function<Segmented()> job) {
        if (!pool_) {
            Segmented r = job();
            out_.write(r.rec, r.image ? &*r.image : nullptr, r.seg);
            return;
        }
        inflight_.push_back(pool_->submit(std::move(job)));
        while (inflight_.size() >= static_cast<size_t>(2 * workers_)) take();
    }
    void finish() {
        while (!inflight_.empty()) take();
    }

private:
    void take() {
        std::future<Segmented> f = std::move(inflight_.front());
        inflight_.pop_front();  // before get(): a job's error leaves no empty future behind
        Segmented r = f.get();
        out_.write(r.rec, r.image ? &*r.image : nullptr, r.seg);
    }
    Outputs& out_;
    int workers_;
    // On an error the queue is dropped unwritten: the pool (declared last, destroyed first) drops the jobs not
    // started and joins its workers, then the futures go.
    std::deque<std::future<Segmented>> inflight_;
    std::optional<WorkerPool> pool_;
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
    if (!(opt.seg.bandwidth > 0)) throw UsageError("--bandwidth must be a positive number");
    if (opt.noise > 0 && !opt.model && !opt.pixels)
        throw UsageError("--noise needs images as input (--model MODEL IMAGE... or --pixels CELL IMAGE...), not a code "
                         "stream");
    if (opt.pixels && opt.model)
        throw UsageError("--pixels segments the images' pixels: --model does not apply");
    if (opt.batch < 1) throw UsageError("--batch must be at least 1");
    check_output_names(opt);
    protect_inputs(opt.inputs);
    set_faiss_threads(opt.threads.value_or(0));
    set_threads(opt.threads.value_or(0));  // after: it also stops OpenBLAS's idle threads
    Outputs out{opt, 0, {}};
    // Image workers for --pixels and --model (a code stream chooses its own, below).
    const int workers = opt.model && opt.batch > 1 ? 1 : image_workers(opt.threads.value_or(0), 1, "cpu", opt.inputs.size());
    const SegmentOptions& so = opt.seg;
    // Image i of the inputs, with --noise added.
    auto load = [&opt, &so](size_t i) {
        Image img = read_image(opt.inputs[i]);
        if (opt.noise > 0) {
            img = to_rgb(img);
            add_gaussian_noise(img, opt.noise, so.seed + i);
        }
        return img;
    };
    // Each branch makes its queue after what its jobs use (the codec), so that on an error the workers stop
    // before those go.
    if (opt.pixels) {
        if (opt.inputs.empty()) throw UsageError("--pixels needs images to segment (IMAGE...)");
        if (opt.inputs.size() > 1)
            for (const auto& [p, name] : {std::pair{&opt.output, "-o"}, {&opt.labels, "--labels"},
                                          {&opt.mask, "--mask"}, {&opt.overlay, "--overlay"}})
                if (!p->empty()) out.check_pattern(*p, name, 1);
        SegmentQueue queue(out, workers);
        for (size_t i = 0; i < opt.inputs.size(); ++i)
            queue.push([&opt, &so, &load, i] {
                Segmented r;
                Image img = load(i);
                r.rec = pixel_record(img, *opt.pixels, opt.inputs[i]);
                r.seg = segment_codes(r.rec, so);
                if (!opt.overlay.empty()) r.image = std::move(img);
                return r;
            });
        queue.finish();
    } else if (!opt.model) {
        std::vector<std::string> inputs = opt.inputs;
        if (inputs.empty()) {
            if (is_terminal(STDIN_FILENO))
                throw UsageError("no input: pipe a code stream in (scvae-encode ... | scvae-segment), give code "
                                 "files, or images with --model");
            inputs.push_back("-");
        }
        // Workers start with a stream's second record, whatever the inputs are (one file can hold many records): a
        // stream of one record is segmented by the main thread with every thread.
        auto job = [&so](std::shared_ptr<CodeRecord> shared) {
            return [&so, shared] {
                Segmented r;
                r.seg = segment_codes(*shared, so);
                r.rec = std::move(*shared);
                return r;
            };
        };
        size_t records = 0;
        std::shared_ptr<CodeRecord> first;  // held until a second record (or the end) decides the workers
        std::optional<SegmentQueue> queue;
        auto drain = [&] {
            if (queue) {
                queue->finish();
            } else if (first) {
                SegmentQueue one(out, 1);
                one.push(job(std::move(first)));
            }
        };
        bool reading = true;  // an error from the reader, not from a record's segmentation or outputs
        try {
            for_each_record(inputs, [&](const CodeRecord& rec, const std::string&) {
                ++records;
                reading = false;
                auto shared = std::make_shared<CodeRecord>(rec);
                if (!queue && !first) {
                    first = std::move(shared);
                } else {
                    if (!queue) {
                        queue.emplace(out, image_workers(opt.threads.value_or(0), 1, "cpu", 64));
                        queue->push(job(std::move(first)));
                    }
                    queue->push(job(std::move(shared)));
                }
                reading = true;
            });
        } catch (const Error&) {
            if (reading) drain();  // the good records before a bad one still get their outputs, as one at a time
            throw;
        }
        drain();
        if (records == 0) throw Error(input_names(inputs) + ": no code records (empty stream)");
    } else {
        if (opt.inputs.empty()) throw UsageError("--model needs images to segment (IMAGE...)");
        if (opt.inputs.size() > 1)
            for (const auto& [p, name] : {std::pair{&opt.output, "-o"}, {&opt.labels, "--labels"},
                                          {&opt.mask, "--mask"}, {&opt.overlay, "--overlay"}})
                if (!p->empty()) out.check_pattern(*p, name, 1);
        Codec codec = Codec::load(*opt.model);
        if (workers > 1) {
            SegmentQueue queue(out, workers);
            for (size_t i = 0; i < opt.inputs.size(); ++i)
                queue.push([&opt, &so, &codec, &load, i] {
                    Segmented r;
                    std::vector<Image> one;
                    one.push_back(load(i));
                    r.rec = std::move(codec.encode(one, {opt.inputs[i]}).front());
                    r.seg = segment_codes(r.rec, so);
                    if (!opt.overlay.empty()) r.image = std::move(one.front());
                    return r;
                });
            queue.finish();
        } else {
            for (size_t start = 0; start < opt.inputs.size(); start += static_cast<size_t>(opt.batch)) {
                std::vector<Image> images;
                std::vector<std::string> names;
                for (size_t i = start; i < opt.inputs.size() && i < start + static_cast<size_t>(opt.batch); ++i) {
                    images.push_back(load(i));
                    names.push_back(opt.inputs[i]);
                }
                std::vector<CodeRecord> recs = codec.encode(images, names);
                for (size_t i = 0; i < recs.size(); ++i) out.handle(recs[i], &images[i]);
            }
        }
    }
    out.finish();
    return kExitOk;
}

}  // namespace scvae
