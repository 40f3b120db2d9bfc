// codec_tools.cpp - scvae-encode and scvae-decode: images <-> sparse-code streams.
#include "scvae/codec_tools.h"

#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
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

struct LoadedImage {
    std::string name;  // as given by the user
    std::optional<Image> image;
    std::string error;  // set when the file could not be read
};

LoadedImage load_one(const std::string& path) {
    LoadedImage li;
    li.name = path;
    try {
        li.image = read_image(path);
    } catch (const Error& e) {
        li.error = e.what();
    }
    return li;
}

std::vector<std::string> gather_inputs(const EncodeOptions& opt) {
    std::vector<std::string> all = opt.inputs;
    if (!opt.files_from.empty()) {
        auto listed = read_list_file(opt.files_from);
        all.insert(all.end(), listed.begin(), listed.end());
    }
    if (all.empty()) {
        if (is_terminal(STDIN_FILENO))
            throw UsageError("no input images (give IMAGE..., '-' for stdin, or --files-from FILE)");
        all.push_back("-");
    }
    size_t stdin_uses = 0;
    for (const auto& p : all) stdin_uses += (p == "-");
    if (stdin_uses > 1) throw UsageError("'-' (stdin) can be given only once");
    if (opt.shard.count == 1) return all;
    std::vector<std::string> mine;
    for (size_t i = 0; i < all.size(); ++i)
        if (static_cast<int>(i % opt.shard.count) == opt.shard.index) mine.push_back(all[i]);
    return mine;
}

}  // namespace

namespace {
void encode_batches(const EncodeOptions& opt, const std::vector<std::string>& inputs, Codec& codec,
                    CodeWriter& writer, AtomicOutput& out, Progress& progress,
                    const std::function<void(const std::string&)>& unreadable);
}  // namespace

int encode_main(const EncodeOptions& opt) {
    if (opt.batch < 1) throw UsageError("--batch must be at least 1");
    std::vector<std::string> inputs = gather_inputs(opt);
    if (!opt.json) refuse_binary_to_terminal(opt.output);

    set_threads(opt.threads);
    Codec codec = Codec::load(opt.model.empty() ? default_model_path() : opt.model, parse_device(opt.device));

    protect_inputs(inputs);
    AtomicOutput out(opt.output);
    CodeWriterOptions wopt;
    wopt.encoding = opt.json ? CodesEncoding::Json : CodesEncoding::Binary;
    wopt.half = opt.half;
    CodeWriter writer(out.get(), out.name(), wopt);

    size_t failures = 0;
    Progress progress(opt.quiet, "images", inputs.size());
    // An unreadable image stops the run, or with --keep-going is reported and counted.
    auto unreadable = [&](const std::string& error) {
        if (!opt.keep_going) throw Error(error);
        warn(error);
        ++failures;
    };
    const int workers = image_workers(opt.threads, opt.batch, opt.device, inputs.size());
    if (workers > 1) {
        // Each worker reads and encodes whole images; records are written in input order.
        set_threads(1);
        WorkerPool pool(workers);
        struct Result {
            std::optional<CodeRecord> rec;
            std::string error;
        };
        std::deque<std::future<Result>> inflight;
        size_t next = 0;
        for (size_t i = 0; i < inputs.size(); ++i) {
            while (next < inputs.size() && inflight.size() < static_cast<size_t>(2 * workers)) {
                const size_t k = next++;
                inflight.push_back(pool.submit([&codec, &inputs, k]() {
                    Result r;
                    LoadedImage li = load_one(inputs[k]);
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
            progress.update(i);
            Result r = inflight.front().get();
            inflight.pop_front();
            if (!r.rec) {
                unreadable(r.error);
                continue;
            }
            writer.write(*r.rec);
            if (out.is_stdout()) std::fflush(stdout);
        }
    } else {
        encode_batches(opt, inputs, codec, writer, out, progress, unreadable);
    }
    progress.update(inputs.size());
    out.commit();
    if (failures > 0) {
        warn(std::to_string(failures) + " of " + std::to_string(inputs.size()) + " images could not be encoded");
        return kExitData;
    }
    return kExitOk;
}

namespace {

// Batches of --batch images; the next batch is decoded on another thread while the network runs on this one.
void encode_batches(const EncodeOptions& opt, const std::vector<std::string>& inputs, Codec& codec,
                    CodeWriter& writer, AtomicOutput& out, Progress& progress,
                    const std::function<void(const std::string&)>& unreadable) {
    auto load_batch = [&inputs, &opt](size_t start) {
        std::vector<LoadedImage> batch;
        for (size_t i = start; i < inputs.size() && i < start + static_cast<size_t>(opt.batch); ++i)
            batch.push_back(load_one(inputs[i]));
        return batch;
    };
    std::future<std::vector<LoadedImage>> next = std::async(std::launch::async, load_batch, 0);
    for (size_t start = 0; start < inputs.size(); start += opt.batch) {
        progress.update(start);
        std::vector<LoadedImage> batch = next.get();
        if (start + opt.batch < inputs.size())
            next = std::async(std::launch::async, load_batch, start + opt.batch);
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

// Where decoded images go: one file per record through a pattern, one image on stdout, or a montage.
class ImageSink {
public:
    explicit ImageSink(const DecodeOptions& opt) : opt_(opt) {
        if (opt.output.empty())
            throw UsageError("no output given: use -o PATTERN (e.g. -o '{stem}.png'), or -o - for one image on stdout");
        single_ = opt.output == "-" || !pattern_has_placeholder(opt.output) || opt.montage_cols > 0;
        if (opt.output == "-" && is_terminal(STDOUT_FILENO))
            throw UsageError("refusing to write an image to a terminal; use -o FILE or a pipe");
        if (opt.output != "-") {
            // Fail before any work on an unknown extension.
            ImageFormat f = image_format_from_name(expand_pattern(opt.output, "x", 0));
            if (f == ImageFormat::Unknown)
                throw UsageError(opt.output + ": unknown image extension (use .png, .jpg or .jpeg)");
        }
    }

    void add(Image img, const CodeRecord& rec, size_t index, const std::string& where) {
        if (opt_.montage_cols > 0) {
            tiles_.push_back(std::move(img));
            labels_.push_back(expand_pattern("{stem}", rec.source, 0));
            return;
        }
        if (single_) {
            if (held_)
                throw Error(where + ": more than one record, but -o " + opt_.output +
                            " names one image; use a pattern such as -o '{stem}-{index}.png'");
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
            write_image(opt_.output, make_montage_image(), wopts());
        } else if (held_) {
            write_image(opt_.output, *held_, wopts());
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
