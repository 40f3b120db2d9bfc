// train.cpp - a training run of SC-VAE (see scvae/train.h and man/scvae-train.1).
//
// Run directory:
//   config.json     the model config          command.txt   the exact command line
//   options.json    every training option (what --resume reads back)
//   state.pt        the checkpoint: weights, Adam moments, LibTorch RNG state and the counters (step,
//                   best validation loss, skipped images, seconds trained) as a torch::serialize archive;
//                   written to state.pt.tmp.<pid> and renamed, so a kill at any moment leaves the last good one
//   last.scvm       the model at the last checkpoint     best.scvm   the model with the lowest validation loss
//   log.jsonl       one JSON object a line: {"type":"train",...} every log interval, {"type":"val",...} per
//                   validation, {"type":"event",...} for start/resume/stop
//   loss.png        training curves: total loss (log scale) and PSNR of train and validation over the step
//   val.png         validation originals (top row) over their reconstructions (bottom row, with PSNR), enlarged,
//                   under a caption with the step and the validation PSNR and SSIM
// Data order is a function of (seed, step) only (scvae/dataset.h), so the checkpoint needs no data state.
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <unistd.h>

#include <cstring>
#include <iterator>

#include "io/bytes.h"
#include "scvae/dataset.h"
#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/io.h"
#include "scvae/metrics.h"
#include "scvae/montage.h"
#include "scvae/train.h"
#include "train/dist.h"
#include "model/networks.h"

namespace fs = std::filesystem;

namespace scvae {

namespace {

std::atomic<int> g_stop_signal{0};

extern "C" void on_stop_signal(int sig) { g_stop_signal.store(sig); }

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw error_at(path, "cannot read");
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void write_text(const std::string& path, const std::string& text) { write_file_atomic(path, text.data(), text.size()); }

int env_int(const char* name, int fallback, int lo, int hi) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(v, &end, 10);
    if (!*v || *end || errno == ERANGE || n < lo || n > hi)
        throw InvalidArgument(std::string("$") + name + ": expected an integer in [" + std::to_string(lo) + ", " +
                              std::to_string(hi) + "], got '" + v + "'");
    return static_cast<int>(n);
}

// The parameter-name prefixes of the layers scvae-model grow added ("grown_layers" in a model's meta).
std::vector<std::string> grown_layers(const nlohmann::json& meta) {
    std::vector<std::string> v;
    auto it = meta.find("grown_layers");
    if (it == meta.end() || !it->is_array()) return v;
    for (const auto& e : *it)
        if (e.is_string()) v.push_back(e.get<std::string>() + ".");
    return v;
}

// Adam over the network's parameters: one group at --lr, and with --grown-lr (not 1) a second one, at
// grown_lr * lr, of the layers the --init model's meta names as grown. Layers that scvae-model grow adds start at
// zero output, and at a fine-tuning rate they would take thousands of steps to reach the size of the others.
torch::optim::Adam make_optimizer(SCVAE& net, const nlohmann::json& init_meta, const TrainOptions& o) {
    const auto grown = o.grown_lr != 1 ? grown_layers(init_meta) : std::vector<std::string>{};
    if (o.grown_lr != 1 && grown.empty())
        throw InvalidArgument("--grown-lr: " + (o.init_model.empty() ? std::string("a new model") : display_name(o.init_model)) +
                              " has no grown layers (--init a model made by scvae-model grow)");
    std::vector<torch::Tensor> base, boosted;
    for (const auto& p : net->named_parameters(true)) {
        bool is_grown = false;
        for (const auto& g : grown) is_grown = is_grown || p.key().rfind(g, 0) == 0;
        (is_grown ? boosted : base).push_back(p.value());
    }
    const auto options = torch::optim::AdamOptions(o.lr).eps(o.adam_eps);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(base);
    if (!boosted.empty())
        groups.emplace_back(boosted, std::make_unique<torch::optim::AdamOptions>(
                                         torch::optim::AdamOptions(o.lr * o.grown_lr).eps(o.adam_eps)));
    return torch::optim::Adam(std::move(groups), options);
}

void set_learning_rates(torch::optim::Adam& opt, const TrainOptions& o) {
    auto& groups = opt.param_groups();
    for (size_t i = 0; i < groups.size(); ++i)
        static_cast<torch::optim::AdamOptions&>(groups[i].options()).lr(i == 0 ? o.lr : o.lr * o.grown_lr);
}

// The learning rate Adam applies to group `i` (what the log reports).
double group_lr(torch::optim::Adam& opt, size_t i) {
    return static_cast<torch::optim::AdamOptions&>(opt.param_groups().at(i).options()).lr();
}

nlohmann::json options_to_json(const TrainOptions& o) {
    return {{"inputs", o.inputs}, {"files_from", o.files_from}, {"val_dir", o.val_dir},
            {"val_fraction", o.val_fraction}, {"size", o.size}, {"resize_short", o.resize_short},
            {"val_images", o.val_images}, {"preset", o.preset}, {"config_file", o.config_file},
            {"config_overrides", o.config_overrides}, {"init_model", o.init_model}, {"alpha", o.alpha},
            {"init_alpha", o.init_alpha},
            {"lr", o.lr}, {"grown_lr", o.grown_lr}, {"adam_eps", o.adam_eps}, {"batch", o.batch}, {"epochs", o.epochs}, {"steps", o.steps},
            {"grad_clip", o.grad_clip}, {"seed", o.seed}, {"val_every", o.val_every},
            {"checkpoint_every", o.checkpoint_every}, {"log_every", o.log_every}, {"half", o.half},
            {"world_size", o.world_size}, {"bucket_mb", o.bucket_mb},
            // local processes started by --procs (resume starts as many again); 1 otherwise
            {"procs", o.procs > 1 && o.procs == o.world_size ? o.procs : 1}};
}

void options_from_json(const nlohmann::json& j, TrainOptions& o) {
    o.inputs = j.at("inputs").get<std::vector<std::string>>();
    o.files_from = j.at("files_from").get<std::vector<std::string>>();
    o.val_dir = j.at("val_dir");
    o.val_fraction = j.at("val_fraction");
    o.size = j.at("size");
    o.resize_short = j.at("resize_short");
    o.val_images = j.at("val_images");
    o.preset = j.at("preset");
    o.config_file = j.at("config_file");
    o.config_overrides = j.at("config_overrides");
    o.init_model = j.at("init_model");
    o.alpha = j.at("alpha");
    o.init_alpha = j.value("init_alpha", -1.0);
    o.lr = j.at("lr");
    o.grown_lr = j.value("grown_lr", 1.0);
    o.adam_eps = j.value("adam_eps", 1e-8);
    o.batch = j.at("batch");
    o.epochs = j.at("epochs");
    o.steps = j.at("steps");
    o.grad_clip = j.at("grad_clip");
    o.seed = j.at("seed");
    o.val_every = j.at("val_every");
    o.checkpoint_every = j.at("checkpoint_every");
    o.log_every = j.at("log_every");
    o.half = j.at("half");
    o.bucket_mb = j.at("bucket_mb");
}

// A resumed run continues with the options in options.json. What may change without touching the data, the
// model or the random streams is taken from the command line (the length of the run, the learning rate and
// clipping, when to validate, log and checkpoint, storage precision); data, model, batch and seed options
// are refused. Returns the changed options (for the log); throws InvalidArgument for a refused one.
// A library caller's TrainOptions carries no command line: its fields that differ from TrainOptions()'s count as
// given.
std::set<std::string> given_options(const TrainOptions& g) {
    if (!g.given.empty() || !g.argv.empty()) return g.given;
    const TrainOptions d;
    std::set<std::string> s;
    auto mark = [&](const char* key, bool differs) {
        if (differs) s.insert(key);
    };
    mark("inputs", g.inputs != d.inputs);
    mark("files-from", g.files_from != d.files_from);
    mark("val", g.val_dir != d.val_dir);
    mark("val-fraction", g.val_fraction != d.val_fraction);
    mark("val-images", g.val_images != d.val_images);
    mark("size", g.size != d.size);
    mark("resize-short", g.resize_short != d.resize_short);
    mark("preset", g.preset != d.preset);
    mark("config", g.config_file != d.config_file);
    mark("init", g.init_model != d.init_model);
    mark("alpha", g.alpha != d.alpha);
    mark("init-alpha", g.init_alpha != d.init_alpha);
    mark("adam-eps", g.adam_eps != d.adam_eps);
    mark("batch", g.batch != d.batch);
    mark("seed", g.seed != d.seed);
    mark("steps", g.steps != d.steps);
    mark("epochs", g.epochs != d.epochs);
    mark("lr", g.lr != d.lr);
    mark("grown-lr", g.grown_lr != d.grown_lr);
    mark("grad-clip", g.grad_clip != d.grad_clip);
    mark("val-every", g.val_every != d.val_every);
    mark("checkpoint-every", g.checkpoint_every != d.checkpoint_every);
    mark("log-every", g.log_every != d.log_every);
    mark("half", g.half != d.half);
    mark("bucket-mb", g.bucket_mb != d.bucket_mb);
    for (auto it = g.config_overrides.begin(); it != g.config_overrides.end(); ++it)
        s.insert(it.key() == "steps" ? "lista-steps" : it.key() == "beta" ? "vq-beta" : it.key() == "ema_decay" ? "vq-ema" : it.key());
    return s;
}

nlohmann::json apply_resume_options(const TrainOptions& given_opts, TrainOptions& o) {
    TrainOptions given = given_opts;
    given.given = given_options(given_opts);
    static const std::set<std::string> fixed = {
        "inputs", "files-from", "val", "val-fraction", "val-images", "size", "resize-short", "preset", "config",
        "d", "channels", "n", "K", "lista-steps", "solver", "init", "alpha", "init-alpha", "adam-eps", "batch",
        "seed", "latent", "vq-beta", "vq-ema"};
    std::string refused;
    for (const auto& k : given.given)
        if (fixed.count(k)) refused += (refused.empty() ? "" : ", ") + std::string(k == "inputs" ? "" : k.size() == 1 ? "-" : "--") + (k == "inputs" ? "training images" : k);
    if (!refused.empty())
        throw InvalidArgument("--resume: " + refused + " cannot change in a resumed run (it continues with " + o.run_dir +
                         "/options.json); to change them, start a new run from its weights with --init " + o.run_dir +
                         "/last.scvm");
    nlohmann::json changed = nlohmann::json::object();
    auto take = [&](const char* key, auto& field, const auto& value, const char* json_key) {
        if (!given.given.count(key)) return;
        if (field != value) changed[json_key] = value;
        field = value;
    };
    take("steps", o.steps, given.steps, "steps");
    if (given.given.count("epochs")) {
        if (o.epochs != given.epochs) changed["epochs"] = given.epochs;
        o.epochs = given.epochs;
        if (!given.given.count("steps") && o.steps != 0) {  // --epochs alone sets the length in epochs
            changed["steps"] = 0;
            o.steps = 0;
        }
    }
    take("lr", o.lr, given.lr, "lr");
    if (given.given.count("grown-lr") && (given.grown_lr == 1) != (o.grown_lr == 1))
        throw InvalidArgument("--resume: --grown-lr cannot change to or from 1 in a resumed run (the optimiser's state has " +
                              std::string(o.grown_lr == 1 ? "one parameter group" : "two parameter groups") +
                              "); to change it, start a new run from its weights with --init " + o.run_dir + "/last.scvm");
    take("grown-lr", o.grown_lr, given.grown_lr, "grown_lr");
    take("grad-clip", o.grad_clip, given.grad_clip, "grad_clip");
    take("val-every", o.val_every, given.val_every, "val_every");
    take("checkpoint-every", o.checkpoint_every, given.checkpoint_every, "checkpoint_every");
    take("log-every", o.log_every, given.log_every, "log_every");
    take("half", o.half, given.half, "half");
    take("bucket-mb", o.bucket_mb, given.bucket_mb, "bucket_mb");
    return changed;
}

ModelConfig build_config(const TrainOptions& o) {
    ModelConfig cfg;
    if (!o.config_file.empty()) {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(read_text(o.config_file));
        } catch (const nlohmann::json::exception& e) {
            throw error_at(o.config_file, std::string("not valid JSON (") + e.what() + ")");
        }
        if (j.contains("config") && j["config"].is_object()) j = j["config"];  // a model file's header
        try {
            cfg = ModelConfig::from_json(j);
        } catch (const Error& e) {
            throw error_at(o.config_file, e.what());
        }
    } else {
        cfg = ModelConfig::preset_config(o.preset);
    }
    if (!o.config_overrides.empty()) {
        nlohmann::json j = cfg.to_json();
        for (auto it = o.config_overrides.begin(); it != o.config_overrides.end(); ++it) {
            if (it.key() == "d") {
                int d = it.value();
                std::vector<int> m = cfg.ch_mult;
                m.resize(size_t(d) + 1, m.empty() ? 1 : m.back());
                j["ch_mult"] = m;
            } else {
                j[it.key()] = it.value();
            }
        }
        j["preset"] = "";
        try {
            cfg = ModelConfig::from_json(j);
        } catch (const Error& e) {
            throw InvalidArgument(std::string("model flags: ") + e.what());
        }
        if (!cfg.vq() && (o.config_overrides.contains("beta") || o.config_overrides.contains("ema_decay")))
            throw InvalidArgument("--vq-beta and --vq-ema apply to VQ models only (add --latent vq)");
    }
    // A fresh model's LISTA thresholds start at alpha/L (or --init-alpha/L); the saved model records the
    // alpha it is trained with (set after the initialisation).
    cfg.alpha = static_cast<float>(o.init_alpha >= 0 ? o.init_alpha : o.alpha);
    try {
        cfg.validate();
    } catch (const Error& e) {
        throw InvalidArgument(std::string("model config: ") + e.what());
    }
    return cfg;
}

// Mean Hoyer sparsity over code vectors and the fraction of zero entries (code: ... x K).
std::pair<double, double> code_sparsity(const torch::Tensor& code) {
    auto z = code.detach().reshape({-1, code.size(-1)}).to(torch::kFloat64);
    double K = static_cast<double>(z.size(1));
    auto l1 = z.abs().sum(1), l2 = z.pow(2).sum(1).sqrt();
    auto ratio = torch::where(l2 > 0, l1 / l2.clamp_min(1e-300), torch::full_like(l1, 1.0));
    double hoyer = K > 1 ? ((std::sqrt(K) - ratio) / (std::sqrt(K) - 1.0)).mean().item<double>() : 1.0;
    double zeros = (z == 0).to(torch::kFloat64).mean().item<double>();
    return {hoyer, zeros};
}

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

std::string duration(double s) {
    if (!std::isfinite(s) || s < 0) return "?";
    long t = long(s + 0.5);
    char b[32];
    if (t >= 3600)
        std::snprintf(b, sizeof b, "%ldh%02ldm", t / 3600, (t / 60) % 60);
    else
        std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
    return b;
}

struct ValResult {
    double total = 0, rec = 0, latent = 0, psnr = 0, ssim = 0, hoyer = 0, zeros = 0;
    double nnz = 0;                      // non-zeros per code vector
    std::vector<uint64_t> atom_usage;    // K entries: validation code vectors in which atom k is non-zero
    uint64_t atoms_used = 0;
    double atom_entropy = 0;             // bits
    std::vector<Image> originals, recons;
    std::vector<double> grid_psnr;       // PSNR of each image in originals/recons
};

ValResult validate(SCVAE& net, const ImageSet& val, int batch, double alpha, int grid_images) {
    torch::NoGradGuard ng;
    net->eval();
    ValResult r;
    const int S = val.crop_size();
    const size_t per = size_t(3) * S * S;
    double n = 0, vec = 0;
    for (size_t i0 = 0; i0 < val.size(); i0 += size_t(batch)) {
        size_t b = std::min(val.size() - i0, size_t(batch));
        std::vector<float> buf(per * b);
        for (size_t j = 0; j < b; ++j) val.centre_crop(i0 + j, buf.data() + per * j);
        auto x = torch::from_blob(buf.data(), {int64_t(b), 3, S, S}, torch::kFloat32).clone();
        auto out = net->forward(x);
        auto l = scvae_loss(out, x, alpha);
        r.total += l.total.item<double>() * b;
        r.rec += l.rec.item<double>() * b;
        r.latent += l.latent.item<double>() * b;
        auto sp = code_sparsity(out.code);
        double nv = double(out.code.numel() / out.code.size(-1));
        {
            auto used = out.code.reshape({-1, out.code.size(-1)}).ne(0).sum(0).to(torch::kInt64).contiguous();
            if (r.atom_usage.empty()) r.atom_usage.assign(size_t(used.numel()), 0);
            const int64_t* u = used.data_ptr<int64_t>();
            for (size_t k = 0; k < r.atom_usage.size(); ++k) r.atom_usage[k] += uint64_t(u[k]);
            r.nnz += double(used.sum().item<int64_t>());
        }
        r.hoyer += sp.first * nv;
        r.zeros += sp.second * nv;
        vec += nv;
        for (size_t j = 0; j < b; ++j) {
            Image a = tensor_to_image(x[int64_t(j)]), c = tensor_to_image(out.x_hat[int64_t(j)]);
            const double p = psnr(a, c);
            r.psnr += p;
            r.ssim += ssim(a, c);
            if (int(r.originals.size()) < grid_images) {
                r.originals.push_back(std::move(a));
                r.recons.push_back(std::move(c));
                r.grid_psnr.push_back(p);
            }
        }
        n += double(b);
    }
    r.total /= n;
    r.rec /= n;
    r.latent /= n;
    r.psnr /= n;
    r.ssim /= n;
    r.hoyer /= vec;
    r.zeros /= vec;
    r.nnz /= vec;
    for (uint64_t c : r.atom_usage) r.atoms_used += c > 0;
    r.atom_entropy = histogram_entropy_bits(r.atom_usage);
    net->train();
    return r;
}

// val.png: originals over reconstructions, each enlarged (nearest neighbour) to at least 128 pixels, every
// original labelled "original" and every reconstruction with its PSNR, under a caption with the step and the
// validation means.
Image validation_sheet(const ValResult& v, int64_t step, size_t images) {
    const size_t n = v.originals.size();
    if (n == 0) {
        Image blank;
        blank.width = blank.height = 1;
        blank.channels = 3;
        blank.data.assign(3, 1.0f);
        return add_header(blank, {"step " + std::to_string(step) + ": no validation images"}, 2, 1.0f, 0.0f, false);
    }
    std::vector<Image> tiles;
    std::vector<std::string> labels;
    for (int pass = 0; pass < 2; ++pass)
        for (size_t i = 0; i < n; ++i) {
            const Image& t = pass == 0 ? v.originals[i] : v.recons[i];
            const int f = std::max(1, (128 + t.width - 1) / t.width);
            tiles.push_back(f > 1 ? resize_nearest(t, t.width * f, t.height * f) : t);
            labels.push_back(pass == 0 ? "original" : fmt("%.2f dB", v.grid_psnr[i]));
        }
    MontageOptions mo;
    mo.gap = 4;
    mo.label_scale = 2;
    Image sheet = make_montage(tiles, int(n), labels, mo);
    return add_header(sheet,
                      {"step " + std::to_string(step) + ": validation PSNR " + fmt("%.2f", v.psnr) + " dB, SSIM " +
                           fmt("%.4f", v.ssim) + " (mean of " + std::to_string(images) + (images == 1 ? " image)" : " images)"),
                       "originals (top) over their reconstructions (below, with PSNR)"},
                      2, 1.0f, 0.0f, false);  // the caption is kept on two lines, widening a narrow sheet
}

struct State {
    int64_t step = 0;
    double best_val = INFINITY;
    int64_t best_step = -1;
    double seconds = 0;
    int64_t images = 0;
};

void save_checkpoint(const std::string& dir, SCVAE& net, torch::optim::Adam& opt, const State& st) {
    torch::serialize::OutputArchive ar;
    torch::serialize::OutputArchive model_ar, optim_ar;
    // weights by position (p<i>, b<i>: parameters and buffers in named_parameters()/named_buffers() order);
    // archive keys cannot hold the dotted LibTorch names
    {
        int i = 0;
        for (auto& p : net->named_parameters(true)) model_ar.write("p" + std::to_string(i++), p.value().detach());
        i = 0;
        for (auto& b : net->named_buffers(true)) model_ar.write("b" + std::to_string(i++), b.value().detach(), true);
    }
    opt.save(optim_ar);
    ar.write("model", model_ar);
    ar.write("optim", optim_ar);
    ar.write("step", torch::tensor(st.step, torch::kInt64));
    ar.write("best_val", torch::tensor(st.best_val, torch::kFloat64));
    ar.write("best_step", torch::tensor(st.best_step, torch::kInt64));
    ar.write("seconds", torch::tensor(st.seconds, torch::kFloat64));
    ar.write("images", torch::tensor(st.images, torch::kInt64));
    ar.write("rng", at::detail::getDefaultCPUGenerator().get_state());
    const std::string path = dir + "/state.pt", tmp = path + ".tmp." + std::to_string(getpid());
    try {
        // The archive, then a trailer that lets a resume detect damage: "SCCK", u32 CRC-32 of the archive,
        // u64 archive length (little-endian).
        std::ostringstream buf;
        ar.save_to(buf);
        std::string bytes = buf.str();
        std::vector<uint8_t> trailer;
        bytes::Writer w(trailer);
        w.raw("SCCK", 4);
        w.u32(bytes::crc32(bytes.data(), bytes.size()));
        w.u64(bytes.size());
        bytes.append(reinterpret_cast<const char*>(trailer.data()), trailer.size());
        FILE* f = std::fopen(tmp.c_str(), "wb");
        if (!f) throw Error(std::strerror(errno));
        const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0;
        const int e = errno;
        // flush to disk before the rename, so a crash cannot leave a renamed but empty file
        if (ok) fsync(fileno(f));
        if (std::fclose(f) != 0 || !ok) throw Error(std::strerror(ok ? errno : e));
    } catch (const std::exception& e) {
        std::remove(tmp.c_str());
        throw error_at(path, std::string("cannot write checkpoint: ") + e.what());
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw error_at(path, std::string("cannot write checkpoint: ") + std::strerror(errno));
    }
}

void load_checkpoint(const std::string& dir, SCVAE& net, torch::optim::Adam& opt, State& st) {
    const std::string path = dir + "/state.pt";
    const char* part = "archive";
    try {
        torch::serialize::InputArchive ar, model_ar, optim_ar;
        {
            part = "checksum";
            std::ifstream in(path, std::ios::binary);
            if (!in) throw Error(std::strerror(errno));
            std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (in.bad()) throw Error("read error");
            const auto* ub = reinterpret_cast<const uint8_t*>(bytes.data());
            const size_t n = bytes.size();
            const bool trailer = n >= 16 && bytes.compare(n - 16, 4, "SCCK") == 0 && bytes::le64(ub + n - 8) == n - 16;
            // A checkpoint from before the trailer is a whole zip archive: it ends with the end-of-central-
            // directory record ("PK\5\6", 22 bytes without a comment). It is resumed, with a warning.
            const bool legacy = !trailer && n >= 22 && bytes.compare(n - 22, 4, std::string("PK\x05\x06", 4)) == 0;
            if (!trailer && !legacy) throw Error("no checksum trailer: damaged or truncated");
            if (trailer) {
                const uint32_t want = bytes::le32(ub + n - 12);
                bytes.resize(n - 16);
                if (bytes::crc32(bytes.data(), bytes.size()) != want)
                    throw Error("checksum mismatch: the file is damaged");
            } else {
                warn(path + ": a checkpoint without a checksum (written before checkpoints carried one); resuming");
            }
            part = "archive";
            std::istringstream is(std::move(bytes));
            ar.load_from(is);
        }
        ar.read("model", model_ar);
        ar.read("optim", optim_ar);
        part = "weights";
        {
            // copy into the existing parameters and buffers (they may share memory with other tensors)
            torch::NoGradGuard ng;
            int i = 0;
            for (auto& p : net->named_parameters(true)) {
                torch::Tensor t;
                model_ar.read("p" + std::to_string(i++), t);
                if (!t.sizes().equals(p.value().sizes())) throw Error("tensor " + p.key() + " has another shape");
                p.value().copy_(t);
            }
            i = 0;
            for (auto& b : net->named_buffers(true)) {
                torch::Tensor t;
                model_ar.read("b" + std::to_string(i++), t, /*is_buffer=*/true);
                if (!t.sizes().equals(b.value().sizes())) throw Error("tensor " + b.key() + " has another shape");
                b.value().copy_(t);
            }
        }
        part = "optimizer state";
        opt.load(optim_ar);
        part = "counters";
        auto get = [&](const char* key) {
            torch::Tensor t;  // a fresh tensor per key: read() into a defined tensor would resize it
            ar.read(key, t);
            return t;
        };
        st.step = get("step").item<int64_t>();
        st.best_val = get("best_val").item<double>();
        st.best_step = get("best_step").item<int64_t>();
        st.seconds = get("seconds").item<double>();
        st.images = get("images").item<int64_t>();
        part = "random state";
        at::Generator gen = at::detail::getDefaultCPUGenerator();
        gen.set_state(get("rng"));
    } catch (const Error& e) {
        if (std::strcmp(part, "checksum") == 0) throw error_at(path, std::string("cannot read checkpoint: ") + e.what());
        throw error_at(path, std::string("cannot read checkpoint: ") + part + " (" + e.what() + "; another model?)");
    } catch (const c10::Error& e) {
        std::string m = e.what_without_backtrace();
        throw error_at(path, std::string("cannot read checkpoint: ") + part + " (" + m.substr(0, m.find('\n')) + ")");
    }
}

// The training's progress: on a terminal a bar, rewritten in place; otherwise a line every log interval.
void show_step(Progress& p, int64_t every, int64_t step, int64_t total, double epoch, int epochs,
               const std::string& stats, double ips, double eta) {
    char line[512];
    if (p.live()) {
        const int width = 24;
        const int fill = total > 0 ? int(double(step) / total * width) : 0;
        std::string bar(size_t(fill), '#');
        bar.resize(width, '.');
        std::snprintf(line, sizeof line, "epoch %.2f/%d [%s] %lld/%lld %s %.1f img/s ETA %s", epoch, epochs,
                      bar.c_str(), (long long)step, (long long)total, stats.c_str(), ips, duration(eta).c_str());
        p.show(line, step >= total);
    } else if (step % every == 0 || step == total) {
        std::snprintf(line, sizeof line, "epoch %.2f step %lld/%lld %s %.1f img/s ETA %s", epoch, (long long)step,
                      (long long)total, stats.c_str(), ips, duration(eta).c_str());
        p.message(line);
    }
}

class JsonLog {
public:
    explicit JsonLog(const std::string& path) : f_(path.empty() ? nullptr : std::fopen(path.c_str(), "a")) {
        if (!path.empty() && !f_) throw error_at(path, std::strerror(errno));
    }
    ~JsonLog() {
        if (f_) std::fclose(f_);
    }
    void write(const nlohmann::json& j) {
        if (!f_) return;
        std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        std::fwrite(s.data(), 1, s.size(), f_);
        std::fflush(f_);
    }

private:
    FILE* f_;
};

// SIGINT and SIGTERM ask a run to stop at the next step (with a checkpoint); the handlers that were there
// before come back when the run ends, by return or by exception.
class StopSignals {
public:
    StopSignals() {
        struct sigaction sa {};
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int_);
        sigaction(SIGTERM, &sa, &old_term_);
        g_stop_signal.store(0);
    }
    ~StopSignals() {
        sigaction(SIGINT, &old_int_, nullptr);
        sigaction(SIGTERM, &old_term_, nullptr);
    }
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;
    int pending() const { return g_stop_signal.load(); }

private:
    struct sigaction old_int_ {}, old_term_ {};
};

// The run folder (man/scvae-train.1, RUN DIRECTORY): options.json, config.json, command.txt, log.jsonl,
// state.pt (the checkpoint), last.scvm and best.scvm, val.png and loss.png. Rank 0 writes it.
class RunDir {
public:
    explicit RunDir(std::string path) : path_(std::move(path)) {}
    const std::string& path() const { return path_; }
    std::string file(const char* name) const { return path_ + "/" + name; }

    // A new run: refuses a folder that holds one; writes options.json and config.json, starts log.jsonl anew.
    void start(const TrainOptions& o, const ModelConfig& cfg) const {
        fs::create_directories(path_);
        if (fs::exists(file("state.pt")))
            throw error_at(path_, "already holds a run (use --resume to continue it, or another folder)");
        write_text(file("options.json"),
                   options_to_json(o).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
        write_text(file("config.json"), cfg.to_json().dump(2) + "\n");
        std::remove(file("log.jsonl").c_str());
    }
    // A resumed run: options the command line changed are written back, so that the next resume keeps them.
    void resume(const TrainOptions& o, const nlohmann::json& changed) const {
        fs::create_directories(path_);
        if (!changed.empty()) write_text(file("options.json"), options_to_json(o).dump(2) + "\n");
    }
    void write_command(const std::string& command_line) const { write_text(file("command.txt"), command_line + "\n"); }

    // The curves logged so far (log.jsonl's train and val lines), for loss.png of a resumed run.
    void replay_curves(std::vector<CurvePoint>& train, std::vector<CurvePoint>& val) const {
        std::ifstream f(file("log.jsonl"));
        std::string line;
        while (std::getline(f, line)) {
            auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.contains("type")) continue;
            if (j["type"] != "train" && j["type"] != "val") continue;
            CurvePoint p;
            p.step = j.value("step", 0.0);
            p.loss = j.value("total", NAN);
            p.psnr = j.value("psnr", NAN);
            (j["type"] == "train" ? train : val).push_back(p);
        }
    }

private:
    std::string path_;
};

// The options a run goes with: the command line's, or for --resume those of the run's options.json with the
// changes the command line may make (apply_resume_options).
struct ResolvedOptions {
    TrainOptions o;
    bool resuming = false;
    nlohmann::json changed = nlohmann::json::object();  // what --resume changed, for the log
};

ResolvedOptions resolve_options(const TrainOptions& given) {
    ResolvedOptions r{given, !given.resume.empty(), nlohmann::json::object()};
    TrainOptions& o = r.o;
    if (r.resuming) {
        o.run_dir = o.resume;
        const std::string p = o.run_dir + "/options.json";
        if (!fs::exists(p)) throw error_at(o.run_dir, "not a run directory (no options.json)");
        if (!fs::exists(o.run_dir + "/state.pt")) throw error_at(o.run_dir, "no checkpoint to resume (no state.pt)");
        nlohmann::json saved;
        try {
            saved = nlohmann::json::parse(read_text(p));
            options_from_json(saved, o);
        } catch (const nlohmann::json::exception& e) {
            throw error_at(p, std::string("corrupt (") + e.what() + ")");
        }
        r.changed = apply_resume_options(given, o);
        if (saved.at("world_size").get<int>() != o.world_size)
            throw InvalidArgument("--resume: the run used " + std::to_string(saved.at("world_size").get<int>()) +
                                  " processes; resume it with the same number (got " + std::to_string(o.world_size) +
                                  ")");
    }
    if (o.run_dir.empty()) throw InvalidArgument("no run directory (-o DIR, or --resume DIR)");
    if (o.batch < 1) throw InvalidArgument("--batch must be positive");
    if (o.world_size < 1 || o.rank < 0 || o.rank >= o.world_size)
        throw InvalidArgument("rank " + std::to_string(o.rank) + " is outside a world of " +
                              std::to_string(o.world_size));
    return r;
}

// The training and validation images (errors here come before any training).
struct Datasets {
    ImageSet train;
    std::unique_ptr<ImageSet> val;
};

Datasets load_datasets(const TrainOptions& o, const ModelConfig& cfg, int threads) {
    std::vector<std::string> files = discover_images(o.inputs, o.files_from);
    std::vector<std::string> train_files, val_files;
    if (!o.val_dir.empty()) {
        train_files = files;
        val_files = discover_images({o.val_dir});
    } else {
        split_by_hash(files, o.val_fraction, train_files, val_files);
        if (val_files.empty() && o.val_fraction > 0 && train_files.size() > 1) {
            // tiny datasets: the hash split can come out empty; take the last file instead
            val_files.push_back(train_files.back());
            train_files.pop_back();
        }
    }
    if (files.empty()) throw Error("no training images (folders are searched for .png, .jpg, .jpeg)");
    if (o.val_images > 0 && int(val_files.size()) > o.val_images) val_files.resize(size_t(o.val_images));
    ImageSetOptions io;
    io.crop = o.size;
    io.resize_short = o.resize_short;
    io.min_side = cfg.factor();
    io.threads = threads;
    Datasets d{ImageSet::load(train_files, io, "training set"), nullptr};
    if (!val_files.empty()) d.val = std::make_unique<ImageSet>(ImageSet::load(val_files, io, "validation set"));
    return d;
}

// How long the run is and how often it validates and logs, in steps.
struct Schedule {
    int64_t global_batch, steps_per_epoch, total_steps, val_every, log_every;
    int epochs_shown;

    Schedule(const TrainOptions& o, size_t train_images) {
        global_batch = int64_t(o.batch) * o.world_size;
        steps_per_epoch = std::max<int64_t>(1, (int64_t(train_images) + global_batch - 1) / global_batch);
        total_steps = o.steps > 0 ? o.steps : int64_t(o.epochs) * steps_per_epoch;
        val_every = o.val_every > 0 ? o.val_every : steps_per_epoch;
        log_every = o.log_every > 0 ? o.log_every : std::max<int64_t>(1, std::min<int64_t>(100, total_steps / 20));
        epochs_shown = int((total_steps + steps_per_epoch - 1) / steps_per_epoch);
    }
};

// The training losses of the steps since the last log line, summed; means() averages them over the ranks.
class LossWindow {
public:
    struct Means {
        double total, rec, latent, hoyer, zeros;
    };
    void add(double total, double rec, double latent, double hoyer, double zeros, double data_wait, double step_s) {
        sum_[0] += total, sum_[1] += rec, sum_[2] += latent, sum_[3] += hoyer, sum_[4] += zeros;
        wait_ += data_wait, busy_ += step_s;
        ++steps_;
    }
    Means means(DistGroup& dist, int world_size) const {
        std::vector<double> v(sum_, sum_ + 5);
        for (auto& e : v) e /= double(steps_);
        if (world_size > 1) {
            v = dist.sum(v);
            for (auto& e : v) e /= world_size;
        }
        return {v[0], v[1], v[2], v[3], v[4]};
    }
    // The share of step time spent waiting for data.
    double data_wait() const { return busy_ > 0 ? wait_ / busy_ : 0.0; }
    // Images per second since the window started (all ranks).
    double images_per_s(int64_t global_batch) const {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        return s > 0 ? double(steps_ * global_batch) / s : 0;
    }
    void reset() {
        std::fill(sum_, sum_ + 5, 0.0);
        wait_ = busy_ = 0;
        steps_ = 0;
        start_ = std::chrono::steady_clock::now();
    }

private:
    double sum_[5] = {0, 0, 0, 0, 0};
    double wait_ = 0, busy_ = 0;
    int64_t steps_ = 0;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// One training run in progress: what the loop, the validations and the checkpoints share.
struct Run {
    const TrainOptions& o;
    const ModelConfig& cfg;
    const RunDir& dir;
    const Schedule& sched;
    const Datasets& data;
    SCVAE& net;
    torch::optim::Adam& opt;
    State& st;
    JsonLog& log;
    Progress& progress;
    std::vector<CurvePoint> train_curve, val_curve;
    bool writer() const { return o.rank == 0; }

    // The meta of a model file written now (with the validation figures for best.scvm).
    nlohmann::json model_meta(const ValResult* v) const {
        nlohmann::json m = {{"trained_by", "scvae-train " + version_string()},
                            {"command", o.command_line},
                            {"step", st.step},
                            {"images_seen", st.images},
                            {"train_seconds", st.seconds},
                            {"alpha", o.alpha},
                            {"lr", o.lr},
                            {"batch", sched.global_batch},
                            {"crop", o.size},
                            {"world_size", o.world_size}};
        if (v)
            m["validation"] = {{"total", v->total}, {"psnr", v->psnr}, {"ssim", v->ssim}, {"hoyer", v->hoyer},
                               {"zeros", v->zeros}, {"nnz_per_vector", v->nnz}, {"atoms_used", v->atoms_used},
                               {"atom_entropy_bits", v->atom_entropy}, {"perplexity", std::exp2(v->atom_entropy)},
                               {"images", data.val->size()},
                               {"crop", o.size}};
        return m;
    }

    // last.scvm and state.pt (rank 0).
    void checkpoint() const {
        if (!writer()) return;
        save_model_file(dir.file("last.scvm"), cfg, net, model_meta(nullptr), o.half);
        save_checkpoint(dir.path(), net, opt, st);
    }

    // A log line of the window's mean losses (every rank takes part in the average), and the progress line.
    void log_train(const LossWindow& window, DistGroup& dist, double epoch, double ips, double eta) {
        const LossWindow::Means m = window.means(dist, o.world_size);
        const double mse = m.rec / double(int64_t(3) * o.size * o.size);
        const double psnr = mse > 0 ? 10.0 * std::log10(1.0 / mse) : kPsnrIdentical;
        nlohmann::json line = {{"type", "train"}, {"step", st.step}, {"epoch", epoch}, {"total", m.total},
                               {"rec", m.rec}, {"latent", m.latent}, {"psnr", psnr}, {"hoyer", m.hoyer},
                               {"zeros", m.zeros}, {"alpha", o.alpha}, {"lr", group_lr(opt, 0)},
                               {"images_per_s", ips}, {"data_wait", window.data_wait()},
                               {"skipped", data.train.skipped()}, {"seconds", st.seconds}};
        // the rate of the grown layers (--grown-lr), as Adam applies it
        if (opt.param_groups().size() > 1) line["grown_layers_lr"] = group_lr(opt, 1);
        log.write(line);
        train_curve.push_back({double(st.step), m.total, psnr});
        show_step(progress, sched.log_every, st.step, sched.total_steps, epoch, sched.epochs_shown,
                  "loss " + fmt("%.4g", m.total) + " rec " + fmt("%.4g", m.rec) + " lat " + fmt("%.4g", m.latent) +
                      " psnr " + fmt("%.2f", psnr),
                  ips, eta);
    }

    // Validation on every rank (rank 0 logs it, keeps best.scvm and redraws val.png and loss.png), then a
    // checkpoint.
    void validate_and_checkpoint(double epoch) {
        ValResult v = validate(net, *data.val, o.batch, o.alpha, 8);
        if (writer()) {
            log.write({{"type", "val"}, {"step", st.step}, {"epoch", epoch}, {"total", v.total},
                       {"rec", v.rec}, {"latent", v.latent}, {"psnr", v.psnr}, {"ssim", v.ssim},
                       {"hoyer", v.hoyer}, {"zeros", v.zeros}, {"nnz_per_vector", v.nnz},
                       {"atoms_used", v.atoms_used}, {"dead_atoms", cfg.K - int64_t(v.atoms_used)},
                       {"atom_entropy_bits", v.atom_entropy}, {"perplexity", std::exp2(v.atom_entropy)},
                       {"latent_type", cfg.latent}, {"alpha", o.alpha}, {"lr", o.lr},
                       {"images", data.val->size()}, {"seconds", st.seconds}});
            val_curve.push_back({double(st.step), v.total, v.psnr});
            if (v.total < st.best_val) {
                st.best_val = v.total;
                st.best_step = st.step;
                save_model_file(dir.file("best.scvm"), cfg, net, model_meta(&v), o.half);
            }
            write_image(dir.file("val.png"), validation_sheet(v, st.step, data.val->size()));
            write_image(dir.file("loss.png"), plot_training_curves(train_curve, val_curve));
            progress.message("step " + std::to_string(st.step) + ": validation loss " + fmt("%.5g", v.total) +
                             ", PSNR " + fmt("%.2f", v.psnr) + " dB, SSIM " + fmt("%.4f", v.ssim) + ", sparsity " +
                             fmt("%.3f", v.hoyer) + ", " + fmt("%.1f", v.nnz) + " non-zeros, " +
                             std::to_string(v.atoms_used) + "/" + std::to_string(cfg.K) + " atoms used" +
                             (st.best_step == st.step ? " (best so far)" : ""));
        }
        checkpoint();
    }

    // The end of the run: stopped by a signal (checkpoint, and how to resume) or done (models, summary).
    void finish(int stop_sig) {
        progress.end_line();
        if (st.step < sched.total_steps || stop_sig) {
            checkpoint();
            log.write({{"type", "event"}, {"event", "stop"}, {"step", st.step}, {"signal", stop_sig}});
            progress.message(std::string("stopped by ") + (stop_sig == SIGINT ? "SIGINT" : "SIGTERM") + " at step " +
                             std::to_string(st.step) + "; checkpoint written; continue with: scvae-train --resume " +
                             dir.path());
        } else {
            if (!data.val) checkpoint();
            if (writer() && !data.val) save_model_file(dir.file("best.scvm"), cfg, net, model_meta(nullptr), o.half);
            log.write({{"type", "event"}, {"event", "done"}, {"step", st.step}, {"seconds", st.seconds},
                       {"best_step", st.best_step}, {"best_val", std::isfinite(st.best_val) ? st.best_val : 0.0}});
            progress.message("done: " + std::to_string(st.step) + " steps in " + duration(st.seconds) +
                             (st.best_step >= 0 ? ", best validation loss " + fmt("%.5g", st.best_val) + " at step " +
                                                      std::to_string(st.best_step)
                                                : std::string()) +
                             "; models in " + dir.path());
        }
        if (!o.rank_model.empty()) {
            std::string path = o.rank_model;
            for (size_t p; (p = path.find("{rank}")) != std::string::npos;) path.replace(p, 6, std::to_string(o.rank));
            save_model_file(path, cfg, net, model_meta(nullptr), false);
            if (!o.quiet)
                std::fprintf(stderr, "%s: rank %d: weights %s (fingerprint %s)\n", program_name().c_str(), o.rank,
                             path.c_str(), compute_fingerprint(cfg, net).c_str());
        }
    }
};

}  // namespace

void distributed_from_env(TrainOptions& o) {
    o.world_size = env_int("WORLD_SIZE", env_int("SLURM_NTASKS", o.world_size, 1, 65536), 1, 65536);
    o.rank = env_int("RANK", env_int("SLURM_PROCID", o.rank, 0, 65535), 0, 65535);
    o.local_rank = env_int("LOCAL_RANK", env_int("SLURM_LOCALID", o.local_rank, 0, 65535), 0, 65535);
    if (const char* a = std::getenv("MASTER_ADDR"); a && *a) o.master_addr = a;
    o.master_port = env_int("MASTER_PORT", o.master_port, 1, 65535);
}

int train_main(const TrainOptions& given) {
    const ResolvedOptions resolved = resolve_options(given);
    const TrainOptions& o = resolved.o;
    const bool writer = o.rank == 0;
    set_threads(o.threads);
    const int threads = o.threads > 0 ? o.threads : available_cpus();
    const int data_threads = o.data_threads > 0 ? o.data_threads : std::max(1, std::min(4, threads / 2));

    ModelConfig cfg = build_config(o);
    if (o.size % cfg.factor() != 0)
        throw InvalidArgument("--size " + std::to_string(o.size) + " is not a multiple of 2^d = " +
                              std::to_string(cfg.factor()));
    const Datasets data = load_datasets(o, cfg, threads);
    const Schedule sched(o, data.train.size());

    // ---- model, optimiser, process group ----
    DistConfig dc;
    dc.world_size = o.world_size;
    dc.rank = o.rank;
    dc.master_addr = o.master_addr;
    dc.master_port = o.master_port;
    dc.timeout_s = o.dist_timeout_s;
    dc.bucket_bytes = size_t(std::max<int64_t>(1, o.bucket_mb)) << 20;
    // Codec::init seeds LibTorch's global generator: one initialisation at a time (ranks run as threads in tests)
    static std::mutex init_mutex;
    std::unique_lock<std::mutex> init_lock(init_mutex);
    Codec codec = o.init_model.empty() ? Codec::init(cfg, o.seed, parse_device(o.device))
                                       : Codec::load(o.init_model, parse_device(o.device));
    init_lock.unlock();
    if (!o.init_model.empty()) cfg = codec.config();  // keep the model's architecture
    cfg.alpha = static_cast<float>(o.alpha);           // and record the alpha it is now trained with
    SCVAE net = codec.impl().net;
    if (!cfg.vq()) net->lista->alpha = o.alpha;
    // Fine-tuning with --init-alpha restarts the learned thresholds at A/L (W_e and S are kept): the knob that
    // makes a trained model's codes denser or sparser. On resume the checkpoint's weights replace them below.
    if (!o.init_model.empty() && o.init_alpha >= 0 && !cfg.vq()) {
        torch::NoGradGuard ng;
        net->lista->theta.fill_(o.init_alpha / net->lista->L);
    }
    net->train();
    std::vector<torch::Tensor> params = net->parameters();
    torch::optim::Adam opt = make_optimizer(net, codec.meta(), o);
    DistGroup dist(dc);

    // ---- the run folder, the starting point ----
    const RunDir dir(o.run_dir);
    if (writer) {
        if (resolved.resuming)
            dir.resume(o, resolved.changed);
        else
            dir.start(o, cfg);
        dir.write_command(o.command_line);
    }
    dist.barrier();
    State st;
    if (resolved.resuming) {
        load_checkpoint(o.run_dir, net, opt, st);
        set_learning_rates(opt, o);  // a resumed run's --lr and --grown-lr, whatever the checkpoint was made with
    } else {
        dist.broadcast(params);  // every rank starts from rank 0's weights
        dist.broadcast(net->buffers());
    }
    JsonLog log(writer ? dir.file("log.jsonl") : "");
    Progress progress(o.quiet || !writer);
    Run run{o, cfg, dir, sched, data, net, opt, st, log, progress, {}, {}};
    if (writer && resolved.resuming) dir.replay_curves(run.train_curve, run.val_curve);
    const size_t val_images = data.val ? data.val->size() : 0;
    log.write({{"type", "event"}, {"event", resolved.resuming ? "resume" : "start"}, {"step", st.step},
               {"train_images", data.train.size()}, {"val_images", val_images},
               {"skipped", data.train.skipped() + (data.val ? data.val->skipped() : 0)}, {"world_size", o.world_size},
               {"total_steps", sched.total_steps}, {"steps_per_epoch", sched.steps_per_epoch},
               {"changed", resolved.changed}});
    progress.message(std::string(resolved.resuming ? "resuming at step " + std::to_string(st.step) + ": " : "") +
                     std::to_string(data.train.size()) + " training and " + std::to_string(val_images) +
                     " validation images, " + std::to_string(sched.total_steps) + " steps of " +
                     std::to_string(sched.global_batch) + " images (" + std::to_string(sched.steps_per_epoch) +
                     " per epoch), " + std::to_string(o.world_size) + " process" + (o.world_size > 1 ? "es" : "") +
                     ", run directory " + o.run_dir);

    // ---- the loop ----
    const StopSignals signals;
    BatchStream stream(data.train, o.batch, o.world_size, o.rank, o.seed, uint64_t(st.step), data_threads);
    LossWindow window;
    const double seconds_before = st.seconds;
    const auto run_start = std::chrono::steady_clock::now();
    double last_ips = 0;
    int stop_sig = 0;
    while (st.step < sched.total_steps) {
        // every rank stops at the same step when any of them got a signal
        double local_stop = double(signals.pending());
        if (o.world_size > 1) local_stop = dist.sum({local_stop})[0];
        if (local_stop > 0) {
            stop_sig = signals.pending() ? signals.pending() : SIGTERM;
            break;
        }
        auto t0 = std::chrono::steady_clock::now();
        double waited = 0;
        Batch b = stream.next(&waited);
        auto x = torch::from_blob(b.data.data(), {o.batch, 3, o.size, o.size}, torch::kFloat32);
        auto out = net->forward(x);
        auto loss = scvae_loss(out, x, o.alpha);
        opt.zero_grad();
        loss.total.backward();
        dist.average_gradients(params);
        if (o.grad_clip > 0) torch::nn::utils::clip_grad_norm_(params, o.grad_clip);
        opt.step();
        if (cfg.vq() && cfg.ema_decay > 0) {  // the EMA codebook moves by the batch's mean statistics, on every rank
            dist.average({net->vq->batch_count, net->vq->batch_sum});
            net->vq->ema_update(net->vq->batch_count, net->vq->batch_sum);
        }
        const double total = loss.total.item<double>();
        if (!std::isfinite(total)) {
            run.checkpoint();
            throw Error("step " + std::to_string(st.step) + ": the loss is " + fmt("%g", total) +
                        " (try a lower --lr or --grad-clip); the last checkpoint is kept");
        }
        const auto sp = code_sparsity(out.code);
        window.add(total, loss.rec.item<double>(), loss.latent.item<double>(), sp.first, sp.second, waited,
                   std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        ++st.step;
        st.images += sched.global_batch;
        st.seconds = seconds_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - run_start).count();

        const double epoch = double(st.step) / double(sched.steps_per_epoch);
        const double ips = window.images_per_s(sched.global_batch);
        if (ips > 0) last_ips = ips;
        const double eta = last_ips > 0 ? double(sched.total_steps - st.step) * sched.global_batch / last_ips : NAN;
        if (st.step % sched.log_every == 0 || st.step == sched.total_steps) {
            run.log_train(window, dist, epoch, ips, eta);
            window.reset();
        } else {
            show_step(progress, sched.log_every, st.step, sched.total_steps, epoch, sched.epochs_shown,
                      "loss " + fmt("%.4g", total), ips, eta);
        }
        if (data.val && (st.step % sched.val_every == 0 || st.step == sched.total_steps))
            run.validate_and_checkpoint(epoch);
        else if (o.checkpoint_every > 0 && st.step % o.checkpoint_every == 0)
            run.checkpoint();
    }
    run.finish(stop_sig);
    dist.barrier();
    return stop_sig ? 128 + stop_sig : 0;
}

}  // namespace scvae
