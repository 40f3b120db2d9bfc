// decode_tool.cpp - scvae-decode: sparse-code streams to images (one per record, a netpbm stream or a montage).
#include "scvae-decode/decode_tool.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "cli.h"
#include "scvae/codes.h"
#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/io.h"
#include "scvae/model.h"
#include "scvae/montage.h"
#include "worker_pool.h"

namespace scvae {

namespace {

// Where decoded images go: one file per record through a pattern, one image on stdout or in one file, a
// netpbm stream (every record, one image after another) on stdout or in one .ppm/.pgm/.pnm/.pam file, or a
// montage.
class ImageSink {
public:
    explicit ImageSink(const DecodeOptions& opt) : opt_(opt) {
        if (!opt.output)
            throw UsageError("no output given: use -o PATTERN (e.g. -o '{stem}.png'), or -o - for standard output");
        single_ = *opt.output == "-" || !pattern_has_placeholder(*opt.output) || opt.montage_cols;
        if (*opt.output == "-" && is_terminal(STDOUT_FILENO))
            throw UsageError("refusing to write an image to a terminal; use -o FILE or a pipe");
        if (*opt.output == "-") {
            fmt_ = ImageFormat::PNG;
            if (opt.format) {
                if (*opt.format == "png") fmt_ = ImageFormat::PNG;
                else if (*opt.format == "jpeg" || *opt.format == "jpg") fmt_ = ImageFormat::JPEG;
                else if (*opt.format == "pnm" || *opt.format == "ppm") fmt_ = ImageFormat::PNM;
                else if (*opt.format == "pam") fmt_ = ImageFormat::PNM, pam_ = true;
                else throw UsageError("--format: expected png, jpeg, pnm or pam, not '" + *opt.format + "'");
            }
        } else {
            if (opt.format)
                throw UsageError("--format applies to -o - only; the extension of " + *opt.output +
                                 " chooses its format");
            // Fail before any work on an unknown extension.
            const std::string example = expand_pattern(*opt.output, "x", 0);
            fmt_ = image_format_from_name(example);
            std::string ext = example.substr(std::min(example.size(), example.find_last_of('.')));
            for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (fmt_ == ImageFormat::Unknown || ext == ".pbm") throw UsageError(unknown_extension_message(*opt.output));
            pam_ = ext == ".pam";
        }
        // netpbm into one output: every record goes there as it is decoded.
        stream_ = single_ && !opt.montage_cols && fmt_ == ImageFormat::PNM;
    }

    void add(Image img, const CodeRecord& rec, size_t index, const std::string& where) {
        if (opt_.montage_cols) {
            tiles_.push_back(std::move(img));
            labels_.push_back(expand_pattern("{stem}", rec.source, 0));
            return;
        }
        if (stream_) {
            if (!out_) out_.emplace((*opt_.output));
            std::vector<uint8_t> bytes = pam_ ? encode_pam(img, wopts()) : encode_image(img, ImageFormat::PNM, wopts());
            out_->write(bytes.data(), bytes.size());
            if (out_->is_stdout()) std::fflush(stdout);
            return;
        }
        if (single_) {
            if (held_)
                throw Error(where + ": more than one record, but -o " + (*opt_.output) +
                            " names one image; use a pattern such as -o '{stem}-{index}.png', or netpbm" +
                            ((*opt_.output) == "-" ? " (--format pnm)" : " (.ppm)") + " for a stream of images");
            held_ = std::move(img);
            return;
        }
        std::string path = expand_pattern((*opt_.output), rec.source, index);
        auto it = written_.find(path);
        if (it != written_.end())
            throw Error(where + ": output " + path + " was already written for record " +
                        std::to_string(it->second + 1) + "; add {index} to the -o pattern");
        write_image(path, img, wopts());
        written_[path] = index;
    }

    void finish(size_t records, const std::string& name) {
        if (records == 0) throw Error(name + ": no records in the code stream");
        if (opt_.montage_cols) {
            const Image m = make_montage_image();
            if (pam_ && (*opt_.output) == "-") {  // write_image names P7 by a .pam extension only
                std::vector<uint8_t> bytes = encode_pam(m, wopts());
                AtomicOutput o("-");
                o.write(bytes.data(), bytes.size());
                o.commit();
            } else {
                write_image((*opt_.output), m, wopts(), fmt_);
            }
        } else if (stream_) {
            out_->commit();
        } else if (held_) {
            write_image((*opt_.output), *held_, wopts(), fmt_);
        }
    }

private:
    WriteOptions wopts() const {
        WriteOptions w;
        w.jpeg_quality = opt_.quality;
        return w;
    }
    Image make_montage_image() const;

    const DecodeOptions& opt_;
    bool single_ = false;
    bool stream_ = false;
    bool pam_ = false;
    ImageFormat fmt_ = ImageFormat::PNG;
    std::optional<AtomicOutput> out_;
    std::optional<Image> held_;
    std::map<std::string, size_t> written_;
    std::vector<Image> tiles_;
    std::vector<std::string> labels_;
};

}  // namespace

namespace {

Image ImageSink::make_montage_image() const {
    MontageOptions mo;
    mo.gap = opt_.montage_gap;
    Image sheet = make_montage(tiles_, *opt_.montage_cols, opt_.labels ? labels_ : std::vector<std::string>{}, mo);
    if (opt_.title.empty()) return sheet;
    return add_header(sheet, opt_.title, sheet.width >= 320 ? 2 : 1);
}

}  // namespace

int decode_main(const DecodeOptions& opt) {
    if (opt.batch < 1) throw UsageError("--batch must be at least 1");
    std::vector<std::string> inputs = opt.inputs.empty() ? std::vector<std::string>{"-"} : opt.inputs;
    protect_inputs(inputs);
    ImageSink sink(opt);

    set_threads(opt.threads.value_or(0));
    std::string model_path = opt.model.value_or(default_model_path());
    Codec codec = Codec::load(model_path, parse_device(opt.device));

    size_t index = 0;
    Progress progress(opt.quiet, "records", 0);
    std::string last_name = display_name(inputs.back());
    // One record at a time on the CPU: workers decode records (each with one intra-op thread) while this thread
    // reads the stream and writes the images in stream order. The stream is read as it comes (a pipe stays a
    // pipe); at most 2 records per worker are in flight.
    const int workers = image_workers(opt.threads.value_or(0), opt.batch, opt.device, 2);
    std::optional<WorkerPool> pool;
    struct Decoded {
        Image img;
        CodeRecord rec;  // header only (for names), the codes are dropped
        std::string where;
    };
    std::deque<std::future<Decoded>> inflight;
    auto take = [&]() {
        Decoded d = inflight.front().get();
        inflight.pop_front();
        sink.add(std::move(d.img), d.rec, index++, d.where);
        progress.count(index);
    };
    if (workers > 1) {
        set_threads(1);
        pool.emplace(workers);
    }
    std::vector<CodeRecord> pending;
    std::vector<std::string> where;
    auto flush = [&]() {
        while (!inflight.empty()) take();  // the workers' records first: they came before
        if (pending.empty()) return;
        std::vector<Image> imgs;
        try {
            imgs = codec.decode(pending);
        } catch (const Error& e) {
            throw Error(where.front() + ": " + e.what());
        }
        for (size_t i = 0; i < imgs.size(); ++i) {
            Image img = pending[i].image_channels == 1 ? to_channels(imgs[i], 1) : std::move(imgs[i]);
            sink.add(std::move(img), pending[i], index++, where[i]);
        }
        progress.count(index);
        pending.clear();
        where.clear();
    };
    for (const auto& path : inputs) {
        InputFile in(path);
        CodeReader reader(in.get(), in.name());
        CodeRecord rec;
        while (true) {
            bool got;
            try {
                got = reader.next(rec);
            } catch (const Error&) {
                flush();  // the good records before a bad one are still decoded
                throw;
            }
            if (!got) break;
            std::string here = in.name() + ": record " + std::to_string(reader.records_read());
            if (rec.fingerprint != codec.fingerprint() && !opt.force) {
                flush();
                throw Error(here + ": codes were made by model " + rec.fingerprint + ", but " + model_path +
                            " is model " + codec.fingerprint() + " (use --force to decode anyway)");
            }
            if (pool) {
                auto r = std::make_shared<CodeRecord>(std::move(rec));
                rec = CodeRecord();
                inflight.push_back(pool->submit([&codec, r, here]() {
                    Decoded d;
                    try {
                        Image img = codec.decode(*r);
                        d.img = r->image_channels == 1 ? to_channels(img, 1) : std::move(img);
                    } catch (const Error& e) {
                        throw Error(here + ": " + e.what());
                    }
                    d.rec = std::move(*r);
                    d.rec.row_ptr.clear();
                    d.rec.indices.clear();
                    d.rec.values.clear();
                    d.where = here;
                    return d;
                }));
                while (inflight.size() >= static_cast<size_t>(2 * workers)) take();
                continue;
            }
            if (!pending.empty() && (pending.front().grid_h != rec.grid_h || pending.front().grid_w != rec.grid_w))
                flush();  // a batch holds records of one grid size
            pending.push_back(std::move(rec));
            where.push_back(here);
            rec = CodeRecord();
            if (pending.size() >= static_cast<size_t>(opt.batch)) flush();
        }
    }
    flush();
    sink.finish(index, last_name);
    return kExitOk;
}

}  // namespace scvae
