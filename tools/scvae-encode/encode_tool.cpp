// encode_tool.cpp - scvae-encode: images (files, folders, streams on stdin) to a sparse-code stream.
#include "scvae-encode/encode_tool.h"

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

// The images of the inputs, one after another. A named file holds one image (a netpbm file may hold a netpbm
// stream); standard input holds any number of PNG, JPEG and netpbm images back to back. An input with several
// images names them stream_image_name(path, n) (stdin-0001, ...), and messages say "<input>: image N".
class ImageInputs {
public:
    struct Item {
        std::string source;   // the record's source name
        std::string display;  // the name in messages
        std::vector<uint8_t> bytes;
        std::string error;    // set when the input could not be read
    };
    explicit ImageInputs(const std::vector<std::string>& paths) : paths_(paths) {}

    bool next(Item& it) {
        if (held_) {
            it = std::move(*held_);
            held_.reset();
            return true;
        }
        return read(it);
    }
    // Whether the first input is a stream of several images (reads its first image ahead).
    bool first_is_stream() {
        if (!held_ && !started_) {
            Item it;
            if (read(it)) held_ = std::move(it);
        }
        return several_;
    }
    size_t images() const { return images_; }

private:
    bool read(Item& it) {
        started_ = true;
        for (;;) {
            if (!reader_) {
                if (next_path_ >= paths_.size()) return false;
                path_ = paths_[next_path_++];
                ++images_;
                try {
                    file_ = std::make_unique<InputFile>(path_);
                } catch (const Error& e) {
                    it = Item{path_, display_name(path_), {}, e.what()};
                    return true;
                }
                reader_ = std::make_unique<ImageStreamReader>(file_->get(), file_->name(), path_ != "-");
                --images_;
            }
            try {
                if (reader_->next(it.bytes)) {
                    ++images_;
                    const size_t n = reader_->images_read();
                    several_ = n > 1 || reader_->more();
                    it.source = several_ ? stream_image_name(path_, n) : path_;
                    it.display = several_ ? file_->name() + ": image " + std::to_string(n) : file_->name();
                    it.error.clear();
                    return true;
                }
                if (reader_->trailing() > 0)
                    warn(file_->name() + ": ignored " + std::to_string(reader_->trailing()) + " bytes after image " +
                         std::to_string(reader_->images_read()) + " that start no PNG, JPEG or netpbm image");
            } catch (const Error& e) {
                ++images_;
                it = Item{path_, file_->name(), {}, e.what()};
                reader_.reset();
                file_.reset();
                return true;
            }
            reader_.reset();
            file_.reset();
        }
    }

    const std::vector<std::string>& paths_;
    size_t next_path_ = 0;
    std::string path_;
    std::unique_ptr<InputFile> file_;
    std::unique_ptr<ImageStreamReader> reader_;
    std::optional<Item> held_;
    bool started_ = false;
    bool several_ = false;
    size_t images_ = 0;  // images met so far, readable or not
};

struct LoadedImage {
    std::string name;  // the record's source name
    std::optional<Image> image;
    std::string error;  // set when the image could not be read
};

LoadedImage load_one(ImageInputs::Item&& item) {
    LoadedImage li;
    li.name = std::move(item.source);
    if (!item.error.empty()) {
        li.error = std::move(item.error);
        return li;
    }
    try {
        li.image = decode_image(item.bytes.data(), item.bytes.size(), item.display);
    } catch (const Error& e) {
        li.error = e.what();
    }
    return li;
}

// Folders are searched recursively for PNG, JPEG and netpbm files (by extension, case-insensitive), sorted
// by path, as scvae-train does; other inputs are kept as given.
std::vector<std::string> expand_folders(const std::vector<std::string>& inputs) {
    namespace fs = std::filesystem;
    std::vector<std::string> out;
    for (const auto& in : inputs) {
        std::error_code ec;
        if (in == "-" || !fs::is_directory(in, ec)) {
            out.push_back(in);
            continue;
        }
        std::vector<std::string> found;
        for (auto it = fs::recursive_directory_iterator(in, fs::directory_options::follow_directory_symlink, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_regular_file(ec) && image_format_from_name(it->path().string()) != ImageFormat::Unknown)
                found.push_back(it->path().string());
        }
        if (ec) throw error_at(in, ec.message());
        if (found.empty()) throw error_at(in, "no PNG, JPEG or netpbm images in this folder");
        std::sort(found.begin(), found.end());
        out.insert(out.end(), found.begin(), found.end());
    }
    return out;
}

std::vector<std::string> gather_inputs(const EncodeOptions& opt) {
    std::vector<std::string> all = opt.inputs;
    if (!opt.files_from.empty()) {
        auto listed = read_list_file(opt.files_from);
        all.insert(all.end(), listed.begin(), listed.end());
    }
    if (all.empty()) {
        if (is_terminal(STDIN_FILENO))
            throw UsageError("no input images (give IMAGE... or FOLDER..., '-' for stdin, or --files-from FILE)");
        all.push_back("-");
    }
    size_t stdin_uses = 0;
    for (const auto& p : all) stdin_uses += (p == "-");
    if (stdin_uses > 1) throw UsageError("'-' (stdin) can be given only once");
    all = expand_folders(all);
    if (opt.shard.count == 1) return all;
    std::vector<std::string> mine;
    for (size_t i = 0; i < all.size(); ++i)
        if (static_cast<int>(i % opt.shard.count) == opt.shard.index) mine.push_back(all[i]);
    return mine;
}

}  // namespace

namespace {
void encode_batches(const EncodeOptions& opt, ImageInputs& source, Codec& codec, CodeWriter& writer,
                    AtomicOutput& out, Progress& progress, const std::function<void(const std::string&)>& unreadable);
}  // namespace

int encode_main(const EncodeOptions& opt) {
    if (opt.batch < 1) throw UsageError("--batch must be at least 1");
    std::vector<std::string> inputs = gather_inputs(opt);
    if (!opt.json) refuse_binary_to_terminal(opt.output);

    set_threads(opt.threads.value_or(0));
    Codec codec = Codec::load(opt.model.value_or(default_model_path()), parse_device(opt.device));
    if (opt.solver != "lista" || opt.solver_steps) codec.set_solver(opt.solver, opt.solver_steps.value_or(0));

    protect_inputs(inputs);
    AtomicOutput out(opt.output);
    CodeWriterOptions wopt;
    wopt.encoding = opt.json ? CodesEncoding::Json : CodesEncoding::Binary;
    wopt.half = opt.half;
    CodeWriter writer(out.get(), out.name(), wopt);

    size_t failures = 0;
    const bool from_stdin = std::find(inputs.begin(), inputs.end(), "-") != inputs.end();
    // The count of images is known ahead only for files (a netpbm file may still hold more: the count then
    // goes on without a total).
    Progress progress(opt.quiet, "images", from_stdin ? 0 : inputs.size());
    // An unreadable image stops the run, or with --keep-going is reported and counted.
    auto unreadable = [&](const std::string& error) {
        if (!opt.keep_going) throw Error(error);
        warn(error);
        ++failures;
    };
    ImageInputs source(inputs);
    // A stream on stdin counts as many images for the choice of workers.
    const size_t items = inputs.size() == 1 && source.first_is_stream() ? 64 : inputs.size();
    const int workers = image_workers(opt.threads.value_or(0), opt.batch, opt.device, items);
    size_t done = 0;
    if (workers > 1) {
        // This thread reads the inputs; each worker decodes and encodes whole images; records are written in
        // input order.
        set_threads(1);
        WorkerPool pool(workers);
        struct Result {
            std::optional<CodeRecord> rec;
            std::string error;
        };
        std::deque<std::future<Result>> inflight;
        bool more = true;
        for (;;) {
            while (more && inflight.size() < static_cast<size_t>(2 * workers)) {
                auto item = std::make_shared<ImageInputs::Item>();
                if (!source.next(*item)) {
                    more = false;
                    break;
                }
                inflight.push_back(pool.submit([&codec, item]() {
                    Result r;
                    LoadedImage li = load_one(std::move(*item));
                    if (!li.image) {
                        r.error = li.error;
                        return r;
                    }
                    std::vector<Image> one;
                    one.push_back(std::move(*li.image));
                    r.rec = std::move(codec.encode(one, {li.name}).front());
                    return r;
                }));
            }
            if (inflight.empty()) break;
            progress.count(done);
            Result r = inflight.front().get();
            inflight.pop_front();
            ++done;
            if (!r.rec) {
                unreadable(r.error);
                continue;
            }
            writer.write(*r.rec);
            if (out.is_stdout()) std::fflush(stdout);
        }
    } else {
        encode_batches(opt, source, codec, writer, out, progress, unreadable);
    }
    progress.count(source.images());
    out.commit();
    if (failures > 0) {
        warn(std::to_string(failures) + " of " + std::to_string(source.images()) + " images could not be encoded");
        return kExitData;
    }
    return kExitOk;
}

namespace {

// Batches of --batch images; the next batch is read and decoded on another thread while the network runs on
// this one.
void encode_batches(const EncodeOptions& opt, ImageInputs& source, Codec& codec, CodeWriter& writer,
                    AtomicOutput& out, Progress& progress, const std::function<void(const std::string&)>& unreadable) {
    auto load_batch = [&source, &opt]() {
        std::vector<LoadedImage> batch;
        ImageInputs::Item item;
        while (batch.size() < static_cast<size_t>(opt.batch) && source.next(item))
            batch.push_back(load_one(std::move(item)));
        return batch;
    };
    std::future<std::vector<LoadedImage>> next = std::async(std::launch::async, load_batch);
    size_t done = 0;
    for (;;) {
        progress.count(done);
        std::vector<LoadedImage> batch = next.get();
        if (batch.empty()) break;
        done += batch.size();
        next = std::async(std::launch::async, load_batch);
        std::vector<Image> images;
        std::vector<std::string> names;
        for (auto& li : batch) {
            if (!li.image) {
                unreadable(li.error);
                continue;
            }
            images.push_back(std::move(*li.image));
            names.push_back(li.name);
        }
        if (images.empty()) continue;
        std::vector<CodeRecord> recs = codec.encode(images, names);
        for (const auto& r : recs) writer.write(r);
        if (out.is_stdout()) std::fflush(stdout);
    }
}

}  // namespace

}  // namespace scvae
