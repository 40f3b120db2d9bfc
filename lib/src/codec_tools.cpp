// codec_tools.cpp - scvae-encode and scvae-decode: images <-> sparse-code streams.
#include "scvae/codec_tools.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <memory>
#include <optional>
#include <set>

#include "scvae/cli.h"
#include "scvae/codes.h"
#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/model.h"
#include "scvae/montage.h"

namespace scvae {

namespace {

// A one-line progress count on stderr, only when stderr is a terminal and --quiet is not given.
class Progress {
public:
    Progress(bool quiet, std::string what, size_t total)
        : on_(!quiet && is_terminal(STDERR_FILENO)), what_(std::move(what)), total_(total) {}
    ~Progress() {
        if (on_ && shown_) std::fputc('\n', stderr);
    }
    void update(size_t done) {
        if (!on_) return;
        if (total_ > 0 && done > total_) total_ = 0;  // more images than inputs (a netpbm stream): a plain count
        shown_ = true;
        if (total_ > 0)
            std::fprintf(stderr, "\r%s: %zu/%zu %s", tool_name().c_str(), done, total_, what_.c_str());
        else
            std::fprintf(stderr, "\r%s: %zu %s", tool_name().c_str(), done, what_.c_str());
        std::fflush(stderr);
    }

private:
    bool on_;
    bool shown_ = false;
    std::string what_;
    size_t total_;
};

// Image-level parallelism. On a CPU, one image's convolutions at batch 1 keep two intra-op threads only partly
// busy (and their OpenMP barriers spin), while two images on two threads of one intra-op thread each run at
// nearly twice the throughput (bench/bench_e2e). Workers are started and set up (init_worker_thread) one after
// the other before any work is given; results are taken in submission order, so outputs keep input order.
class WorkerPool {
public:
    explicit WorkerPool(int workers) {
        std::mutex m;
        std::condition_variable cv;
        int ready = 0;
        for (int i = 0; i < workers; ++i) {
            threads_.emplace_back([this, &m, &cv, &ready] {
                {
                    std::unique_lock<std::mutex> lk(m);
                    init_worker_thread();
                    ++ready;
                    cv.notify_all();
                }
                loop();
            });
            std::unique_lock<std::mutex> lk(m);
            cv.wait(lk, [&] { return ready == i + 1; });
        }
    }
    ~WorkerPool() {
        {
            std::lock_guard<std::mutex> lk(mu_);
            stop_ = true;
            jobs_.clear();  // work not started is dropped (the caller stopped waiting for it)
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
    }
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    template <class F>
    auto submit(F f) -> std::future<decltype(f())> {
        auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
        auto fut = task->get_future();
        {
            std::lock_guard<std::mutex> lk(mu_);
            jobs_.push_back([task] { (*task)(); });
        }
        cv_.notify_one();
        return fut;
    }

private:
    void loop() {
        while (true) {
            std::function<void()> job;
            {
                std::unique_lock<std::mutex> lk(mu_);
                cv_.wait(lk, [this] { return stop_ || !jobs_.empty(); });
                if (jobs_.empty()) return;  // stopping, nothing left
                job = std::move(jobs_.front());
                jobs_.pop_front();
            }
            job();
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> jobs_;
    bool stop_ = false;
    std::vector<std::thread> threads_;
};

// Workers for `items` pieces of work at batch 1 on the CPU: one per thread the tool may use (--threads, else
// every CPU), at most one per item; 1 means the main thread works alone with every intra-op thread.
int image_workers(int threads, int batch, const std::string& device, size_t items) {
    if (batch != 1 || device != "cpu" || items < 2) return 1;
    int t = threads > 0 ? threads : available_cpus();
    return static_cast<int>(std::min<size_t>(static_cast<size_t>(std::max(1, std::min(t, 64))), items));
}

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

    set_threads(opt.threads);
    Codec codec = Codec::load(opt.model.empty() ? default_model_path() : opt.model, parse_device(opt.device));
    if (!opt.solver.empty() || opt.solver_steps > 0) codec.set_solver(opt.solver.empty() ? "lista" : opt.solver, opt.solver_steps);

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
    const int workers = image_workers(opt.threads, opt.batch, opt.device, items);
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
            progress.update(done);
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
    progress.update(source.images());
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
        progress.update(done);
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

namespace {

// Where decoded images go: one file per record through a pattern, one image on stdout or in one file, a
// netpbm stream (every record, one image after another) on stdout or in one .ppm/.pgm/.pnm/.pam file, or a
// montage.
class ImageSink {
public:
    explicit ImageSink(const DecodeOptions& opt) : opt_(opt) {
        if (opt.output.empty())
            throw UsageError("no output given: use -o PATTERN (e.g. -o '{stem}.png'), or -o - for standard output");
        single_ = opt.output == "-" || !pattern_has_placeholder(opt.output) || opt.montage_cols > 0;
        if (opt.output == "-" && is_terminal(STDOUT_FILENO))
            throw UsageError("refusing to write an image to a terminal; use -o FILE or a pipe");
        if (opt.output == "-") {
            fmt_ = ImageFormat::PNG;
            if (!opt.format.empty()) {
                if (opt.format == "png") fmt_ = ImageFormat::PNG;
                else if (opt.format == "jpeg" || opt.format == "jpg") fmt_ = ImageFormat::JPEG;
                else if (opt.format == "pnm" || opt.format == "ppm") fmt_ = ImageFormat::PNM;
                else if (opt.format == "pam") fmt_ = ImageFormat::PNM, pam_ = true;
                else throw UsageError("--format: expected png, jpeg, pnm or pam, not '" + opt.format + "'");
            }
        } else {
            if (!opt.format.empty())
                throw UsageError("--format applies to -o - only; the extension of " + opt.output +
                                 " chooses its format");
            // Fail before any work on an unknown extension.
            const std::string example = expand_pattern(opt.output, "x", 0);
            fmt_ = image_format_from_name(example);
            std::string ext = example.substr(std::min(example.size(), example.find_last_of('.')));
            for (auto& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (fmt_ == ImageFormat::Unknown || ext == ".pbm") throw UsageError(unknown_extension_message(opt.output));
            pam_ = ext == ".pam";
        }
        // netpbm into one output: every record goes there as it is decoded.
        stream_ = single_ && opt.montage_cols == 0 && fmt_ == ImageFormat::PNM;
    }

    void add(Image img, const CodeRecord& rec, size_t index, const std::string& where) {
        if (opt_.montage_cols > 0) {
            tiles_.push_back(std::move(img));
            labels_.push_back(expand_pattern("{stem}", rec.source, 0));
            return;
        }
        if (stream_) {
            if (!out_) out_.emplace(opt_.output);
            std::vector<uint8_t> bytes = pam_ ? encode_pam(img, wopts()) : encode_image(img, ImageFormat::PNM, wopts());
            out_->write(bytes.data(), bytes.size());
            if (out_->is_stdout()) std::fflush(stdout);
            return;
        }
        if (single_) {
            if (held_)
                throw Error(where + ": more than one record, but -o " + opt_.output +
                            " names one image; use a pattern such as -o '{stem}-{index}.png', or netpbm" +
                            (opt_.output == "-" ? " (--format pnm)" : " (.ppm)") + " for a stream of images");
            held_ = std::move(img);
            return;
        }
        std::string path = expand_pattern(opt_.output, rec.source, index);
        auto it = written_.find(path);
        if (it != written_.end())
            throw Error(where + ": output " + path + " was already written for record " +
                        std::to_string(it->second + 1) + "; add {index} to the -o pattern");
        write_image(path, img, wopts());
        written_[path] = index;
    }

    void finish(size_t records, const std::string& name) {
        if (records == 0) throw Error(name + ": no records in the code stream");
        if (opt_.montage_cols > 0) {
            const Image m = make_montage_image();
            if (pam_ && opt_.output == "-") {  // write_image names P7 by a .pam extension only
                std::vector<uint8_t> bytes = encode_pam(m, wopts());
                AtomicOutput o("-");
                o.write(bytes.data(), bytes.size());
                o.commit();
            } else {
                write_image(opt_.output, m, wopts(), fmt_);
            }
        } else if (stream_) {
            out_->commit();
        } else if (held_) {
            write_image(opt_.output, *held_, wopts(), fmt_);
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
    Image sheet = make_montage(tiles_, opt_.montage_cols, opt_.labels ? labels_ : std::vector<std::string>{}, mo);
    if (opt_.title.empty()) return sheet;
    return add_header(sheet, opt_.title, sheet.width >= 320 ? 2 : 1);
}

}  // namespace

int decode_main(const DecodeOptions& opt) {
    if (opt.batch < 1) throw UsageError("--batch must be at least 1");
    if (opt.montage_cols < 0) throw UsageError("--montage: the number of columns must be positive");
    std::vector<std::string> inputs = opt.inputs.empty() ? std::vector<std::string>{"-"} : opt.inputs;
    protect_inputs(inputs);
    ImageSink sink(opt);

    set_threads(opt.threads);
    std::string model_path = opt.model.empty() ? default_model_path() : opt.model;
    Codec codec = Codec::load(model_path, parse_device(opt.device));

    size_t index = 0;
    Progress progress(opt.quiet, "records", 0);
    std::string last_name = display_name(inputs.back());
    // One record at a time on the CPU: workers decode records (each with one intra-op thread) while this thread
    // reads the stream and writes the images in stream order. The stream is read as it comes (a pipe stays a
    // pipe); at most 2 records per worker are in flight.
    const int workers = image_workers(opt.threads, opt.batch, opt.device, 2);
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
        progress.update(index);
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
        progress.update(index);
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
