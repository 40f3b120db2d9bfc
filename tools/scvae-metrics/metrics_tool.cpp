// metrics_tool.cpp - scvae-metrics: pairing images (folders, lists, a code stream), computing the metrics of
// scvae/metrics.h per item and in aggregate, JSON/TSV/summary output and --check thresholds.
#include "scvae-metrics/metrics_tool.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "scvae/codes.h"
#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/io.h"
#include "scvae/model.h"
#include "scvae/perceptual.h"

namespace scvae {

namespace {

const std::vector<std::string> kImageMetrics{"psnr", "mse", "ssim", "ms_ssim"};

bool is_dir(const std::string& p) {
    struct stat st;
    return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// PNG, JPEG and netpbm files of a folder (not recursive), sorted by name.
std::vector<std::string> list_images(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) throw Error(dir + ": " + std::strerror(errno));
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n.empty() || n[0] == '.' || !has_image_extension(n)) continue;
        names.push_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    if (names.empty()) throw Error(dir + ": no PNG, JPEG or netpbm images in this folder");
    std::string base = dir;
    while (base.size() > 1 && base.back() == '/') base.pop_back();
    std::vector<std::string> out;
    for (const auto& n : names) out.push_back(base + "/" + n);
    return out;
}

// stem -> path, refusing two images with one stem.
std::map<std::string, std::string> by_stem(const std::vector<std::string>& paths, const std::string& where) {
    std::map<std::string, std::string> m;
    for (const auto& p : paths) {
        auto [it, fresh] = m.emplace(path_stem(p), p);
        if (!fresh)
            throw Error(where + ": two images named '" + it->first + "' (" + path_name(it->second) + " and " +
                        path_name(p) + "); pairing is by name without extension");
    }
    return m;
}

struct Pair {
    std::string name, a, b;  // a = reference / prediction, b = distorted / ground truth
};

std::vector<Pair> pair_folders(const std::string& da, const std::string& db) {
    const auto ma = by_stem(list_images(da), da), mb = by_stem(list_images(db), db);
    std::vector<Pair> out;
    for (const auto& [s, pa] : ma) {
        auto it = mb.find(s);
        if (it == mb.end()) throw Error(db + ": no image named '" + s + "' to pair with " + pa);
        out.push_back({pa, pa, it->second});
    }
    for (const auto& [s, pb] : mb)
        if (!ma.count(s)) throw Error(da + ": no image named '" + s + "' to pair with " + pb);
    return out;
}

std::vector<Pair> gather_pairs(const MetricsOptions& opt) {
    if (!opt.ref_list.empty() || !opt.dist_list.empty()) {
        if (opt.ref_list.empty() || opt.dist_list.empty())
            throw UsageError("--ref-list and --dist-list go together");
        if (!opt.inputs.empty()) throw UsageError("give either two lists or two folders/files, not both");
        const auto a = read_list_file(opt.ref_list), b = read_list_file(opt.dist_list);
        if (a.empty()) throw Error(display_name(opt.ref_list) + ": the list is empty");
        if (a.size() != b.size())
            throw Error("the lists differ in length (" + std::to_string(a.size()) + " in " +
                        display_name(opt.ref_list) + ", " + std::to_string(b.size()) + " in " +
                        display_name(opt.dist_list) + ")");
        std::vector<Pair> out;
        for (size_t i = 0; i < a.size(); ++i) out.push_back({a[i], a[i], b[i]});
        return out;
    }
    if (opt.inputs.size() != 2)
        throw UsageError(std::string(opt.masks ? "--masks needs PRED GT" : "expected REF DIST") +
                         " (two folders or two image files)" + (opt.inputs.size() > 2 ? ", got more" : ""));
    const bool da = is_dir(opt.inputs[0]), db = is_dir(opt.inputs[1]);
    if (da && db) return pair_folders(opt.inputs[0], opt.inputs[1]);
    if (da != db) throw UsageError("give two folders or two image files, not one of each");
    return {{opt.inputs[0], opt.inputs[0], opt.inputs[1]}};
}

// Images compared as read when both are gray; otherwise both as RGB (alpha composited over white).
void harmonise(Image& a, Image& b) {
    if (a.channels == 1 && b.channels == 1) return;
    if (a.channels != 3) a = to_rgb(a);
    if (b.channels != 3) b = to_rgb(b);
}

// The decoded image as scvae-decode writes it and read_image reads it back: rounded to 8 bits exactly as
// image.cpp does (v*255 + 0.5 truncated, clamped), then k/255.
void quantise8(Image& img) {
    for (auto& v : img.data) {
        const float s = v * 255.0f + 0.5f;
        const int k = !(s > 0.0f) ? 0 : s >= 255.0f ? 255 : static_cast<int>(s);
        v = static_cast<float>(k) / 255.0f;
    }
}

struct Selection {
    bool psnr = true, mse = true, ssim = true, ms_ssim = true;
};

Selection parse_selection(const std::vector<std::string>& names) {
    if (names.empty()) return {};
    Selection s{false, false, false, false};
    for (const auto& raw : names) {
        const std::string n = lower(raw);
        if (n == "psnr") s.psnr = true;
        else if (n == "mse") s.mse = true;
        else if (n == "ssim") s.ssim = true;
        else if (n == "ms_ssim" || n == "ms-ssim" || n == "msssim") s.ms_ssim = true;
        else throw UsageError("--metrics: unknown metric '" + raw + "' (choose from psnr, mse, ssim, ms_ssim)");
    }
    return s;
}

struct Item {
    std::string name, a, b;
    int width = 0, height = 0;
    std::map<std::string, double> v;
};

void quality_metrics(Item& it, const Image& a, const Image& b, const Selection& sel) {
    check_same_shape(a, b, it.a + " vs " + it.b);
    it.width = a.width;
    it.height = a.height;
    try {
        const double m = mse(a, b);
        if (sel.psnr) it.v["psnr"] = psnr_from_mse(m);
        if (sel.mse) it.v["mse"] = m;
        if (sel.ssim) it.v["ssim"] = ssim(a, b);
        if (sel.ms_ssim) it.v["ms_ssim"] = ms_ssim(a, b);
    } catch (const Error& e) {
        throw Error(it.a + " vs " + it.b + ": " + e.what());
    }
}

// Runs fn(i) for i in [0, n) on `threads` threads; rethrows the error of the lowest index.
template <class Fn>
void parallel_for(size_t n, int threads, Fn fn) {
    const size_t T = std::max<size_t>(1, std::min<size_t>(n, static_cast<size_t>(threads)));
    std::atomic<size_t> next{0};
    std::mutex mu;
    size_t err_index = SIZE_MAX;
    std::exception_ptr err;
    auto worker = [&] {
        for (size_t i; (i = next++) < n;) {
            {
                std::lock_guard<std::mutex> g(mu);
                if (err) return;
            }
            try {
                fn(i);
            } catch (...) {
                std::lock_guard<std::mutex> g(mu);
                if (i < err_index) err_index = i, err = std::current_exception();
            }
        }
    };
    std::vector<std::thread> pool;
    for (size_t t = 1; t < T; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    if (err) std::rethrow_exception(err);
}

nlohmann::json stats_json(const CodeStats& s) {
    nlohmann::json j;
    j["records"] = s.records;
    j["fingerprint"] = s.fingerprint;
    j["K"] = s.K;
    j["vectors"] = s.vectors;
    j["hoyer"] = {{"mean", s.hoyer_mean}, {"std", s.hoyer_std}};
    j["zero_fraction"] = s.zero_fraction;
    j["nnz_per_vector"] = s.nnz_per_vector;
    j["atoms_used"] = s.atoms_used;
    j["dead_atoms"] = s.dead_atoms;
    j["atom_entropy_bits"] = s.atom_entropy_bits;
    j["perplexity"] = std::exp2(s.atom_entropy_bits);
    j["atom_histogram"] = s.atom_histogram;
    j["bytes"] = s.bytes;
    j["pixels"] = s.pixels;
    j["bpp"] = s.bpp;
    return j;
}

void add_stats_summary(std::map<std::string, double>& sum, const CodeStats& s) {
    sum["hoyer"] = s.hoyer_mean;
    sum["zero_fraction"] = s.zero_fraction;
    sum["nnz_per_vector"] = s.nnz_per_vector;
    sum["atoms_used"] = static_cast<double>(s.atoms_used);
    sum["bpp"] = s.bpp;
}

std::string fmt(double v, int prec = 6) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*g", prec, v);
    return buf;
}

struct Report {
    std::vector<std::string> columns;  // per-item metric names, in order
    std::vector<Item> items;
    std::map<std::string, MeanStd> aggregate;
    std::map<std::string, double> set_level;  // fid and code statistics
    std::optional<CodeStats> code_stats;
    std::vector<RecordStats> records;
    std::string mode;
};

void aggregate_items(Report& r) {
    for (const auto& c : r.columns) {
        std::vector<double> v;
        for (const auto& it : r.items)
            if (it.v.count(c)) v.push_back(it.v.at(c));
        if (!v.empty()) r.aggregate[c] = mean_std(v);
    }
}

// One line of aggregate numbers (Table 1 style): --summary.
std::string render_summary(const Report& r) {
    std::string out;
    static const std::vector<std::pair<std::string, std::string>> labels{
        {"psnr", "PSNR"}, {"ssim", "SSIM"}, {"ms_ssim", "MS-SSIM"}, {"lpips", "LPIPS"}, {"mse", "MSE"},
        {"iou", "IoU"}, {"dice", "Dice"}};
    std::vector<std::string> parts;
    if (!r.items.empty()) parts.push_back("n=" + std::to_string(r.items.size()));
    else if (r.code_stats) parts.push_back("records=" + std::to_string(r.code_stats->records));
    char buf[96];
    for (const auto& [k, label] : labels) {
        auto it = r.aggregate.find(k);
        if (it == r.aggregate.end()) continue;
        std::snprintf(buf, sizeof buf, k == "psnr" || k == "mse" ? "%s %.2f" : "%s %.4f", label.c_str(),
                      it->second.mean);
        parts.push_back(buf);
    }
    if (r.set_level.count("fid")) {
        std::snprintf(buf, sizeof buf, "rFID %.2f", r.set_level.at("fid"));
        parts.push_back(buf);
    }
    if (r.code_stats) {
        std::snprintf(buf, sizeof buf, "sparsity %.1f%%", 100.0 * r.code_stats->hoyer_mean);
        parts.push_back(buf);
        std::snprintf(buf, sizeof buf, "nnz/vector %.2f", r.code_stats->nnz_per_vector);
        parts.push_back(buf);
        std::snprintf(buf, sizeof buf, "atoms %llu/%u (entropy %.2f bits, perplexity %.1f, %llu dead)",
                      static_cast<unsigned long long>(r.code_stats->atoms_used), r.code_stats->K,
                      r.code_stats->atom_entropy_bits, std::exp2(r.code_stats->atom_entropy_bits),
                      static_cast<unsigned long long>(r.code_stats->dead_atoms));
        parts.push_back(buf);
        std::snprintf(buf, sizeof buf, "bpp %.4f", r.code_stats->bpp);
        parts.push_back(buf);
    }
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? "  " : "") + parts[i];
    return out + "\n";
}

// --tsv: one rectangular table: every row has the header's columns. The set-level numbers (fid, the code
// statistics of the whole set) are a last row "(set)": under the per-row column of the same name, or
// in a column of their own ("-" in the other rows). Names are escaped (\t, \n, \\).
std::string render_tsv(const Report& r) {
    std::string out;
    auto esc = [](const std::string& s) {
        std::string o;
        for (char ch : s) {
            if (ch == '\t') o += "\\t";
            else if (ch == '\n') o += "\\n";
            else if (ch == '\r') o += "\\r";
            else if (ch == '\\') o += "\\\\";
            else o += ch;
        }
        return o;
    };
    const bool per_item = !r.items.empty();
    std::vector<std::string> cols = per_item ? r.columns
                                             : std::vector<std::string>{"vectors", "hoyer", "nnz_per_vector",
                                                                        "bytes", "bpp"};
    const size_t base = cols.size();
    for (const auto& [k, v] : r.set_level)
        if (std::find(cols.begin(), cols.end(), k) == cols.end()) cols.push_back(k);
    auto row = [&](const std::string& name, const std::function<std::string(const std::string&, bool)>& cell) {
        out += name;
        for (size_t i = 0; i < cols.size(); ++i) out += "\t" + cell(cols[i], i < base);
        out += "\n";
    };
    const std::string dash = "-";
    out += per_item ? "name" : "source";
    for (const auto& c : cols) out += "\t" + c;
    out += "\n";
    if (per_item) {
        for (const auto& it : r.items)
            row(esc(it.name), [&](const std::string& c, bool b) {
                return b && it.v.count(c) ? fmt(it.v.at(c), 8) : dash;
            });
        for (const char* which : {"mean", "std"})
            row(std::string("(") + which + ")", [&](const std::string& c, bool b) {
                auto a = r.aggregate.find(c);
                if (!b || a == r.aggregate.end()) return dash;
                return fmt(which[0] == 'm' ? a->second.mean : a->second.std, 8);
            });
    } else {
        for (const auto& s : r.records) {
            const std::map<std::string, std::string> v{{"vectors", std::to_string(s.vectors)},
                                                       {"hoyer", fmt(s.hoyer, 8)},
                                                       {"nnz_per_vector", fmt(s.nnz_per_vector, 8)},
                                                       {"bytes", std::to_string(s.bytes)},
                                                       {"bpp", fmt(s.bpp, 8)}};
            row(esc(s.source), [&](const std::string& c, bool b) { return b ? v.at(c) : dash; });
        }
    }
    if (!r.set_level.empty())
        row("(set)", [&](const std::string& c, bool) {
            auto it = r.set_level.find(c);
            return it == r.set_level.end() ? dash : fmt(it->second, 10);
        });
    return out;
}

// One JSON document, per item and in aggregate (the default).
std::string render_json(const Report& r) {
    nlohmann::ordered_json j;
    j["mode"] = r.mode;
    if (!r.items.empty()) {
        nlohmann::ordered_json items = nlohmann::ordered_json::array();
        for (const auto& it : r.items) {
            nlohmann::ordered_json e;
            e["name"] = it.name;
            e[r.mode == "masks" ? "prediction" : "reference"] = it.a;
            e[r.mode == "masks" ? "truth" : (r.mode == "codes" ? "codes" : "distorted")] = it.b;
            if (it.width) {
                e["width"] = it.width;
                e["height"] = it.height;
            }
            for (const auto& c : r.columns)
                if (it.v.count(c)) e[c] = it.v.at(c);
            items.push_back(e);
        }
        j["images"] = items;
        nlohmann::ordered_json agg;
        agg["count"] = r.items.size();
        for (const auto& c : r.columns) {
            auto a = r.aggregate.find(c);
            if (a != r.aggregate.end()) agg[c] = {{"mean", a->second.mean}, {"std", a->second.std}};
        }
        if (r.set_level.count("fid")) agg["fid"] = r.set_level.at("fid");
        j["aggregate"] = agg;
    }
    if (r.code_stats) {
        j["codes"] = stats_json(*r.code_stats);
        nlohmann::ordered_json recs = nlohmann::ordered_json::array();
        for (const auto& s : r.records)
            recs.push_back({{"source", s.source}, {"vectors", s.vectors}, {"hoyer", s.hoyer},
                            {"nnz_per_vector", s.nnz_per_vector}, {"bytes", s.bytes}, {"bpp", s.bpp}});
        j["codes"]["per_record"] = recs;
    }
    return j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string render(const Report& r, const MetricsOptions& opt) {
    return opt.summary ? render_summary(r) : opt.tsv ? render_tsv(r) : render_json(r);
}

// Everything --check can name, with its value (means for per-item metrics).
std::map<std::string, double> check_values(const Report& r) {
    std::map<std::string, double> v = r.set_level;
    for (const auto& [k, a] : r.aggregate) v[k] = a.mean;
    return v;
}

}  // namespace

std::vector<MetricCheck> parse_checks(const std::string& spec) {
    std::vector<MetricCheck> out;
    size_t start = 0;
    while (start <= spec.size()) {
        size_t comma = spec.find(',', start);
        if (comma == std::string::npos) comma = spec.size();
        std::string part = spec.substr(start, comma - start);
        part.erase(std::remove_if(part.begin(), part.end(), [](unsigned char c) { return std::isspace(c); }), part.end());
        start = comma + 1;
        if (part.empty()) {
            if (comma == spec.size()) break;
            continue;
        }
        size_t p = part.find_first_of("<>=");
        if (p == std::string::npos || p == 0)
            throw UsageError("--check: expected METRIC>=VALUE (or <=, >, <, ==), got '" + part + "'");
        MetricCheck c;
        c.metric = lower(part.substr(0, p));
        if (c.metric == "ms-ssim") c.metric = "ms_ssim";
        if (c.metric == "sparsity") c.metric = "hoyer";
        size_t q = p;
        while (q < part.size() && std::string("<>=").find(part[q]) != std::string::npos) ++q;
        c.op = part.substr(p, q - p);
        if (c.op != ">=" && c.op != "<=" && c.op != ">" && c.op != "<" && c.op != "==")
            throw UsageError("--check: unknown comparison '" + c.op + "' in '" + part + "' (use >=, <=, >, <, ==)");
        c.value = parse_double_option("--check " + c.metric, part.substr(q));
        out.push_back(c);
    }
    if (out.empty()) throw UsageError("--check: no conditions given");
    return out;
}

bool check_passes(const MetricCheck& c, double v) {
    if (c.op == ">=") return v >= c.value;
    if (c.op == "<=") return v <= c.value;
    if (c.op == ">") return v > c.value;
    if (c.op == "<") return v < c.value;
    return v == c.value;
}

namespace {

// Command-line combinations that cannot work, refused before any work.
void check_options(const MetricsOptions& opt, bool codes_only, bool perceptual) {
    if (opt.tsv && opt.summary) throw UsageError("--tsv and --summary cannot be combined");
    if (opt.masks && !opt.codes.empty()) throw UsageError("--masks and --codes cannot be combined");
    if ((opt.masks || codes_only) && perceptual)
        throw UsageError("--lpips-model and --fid-model need pairs of images");
    if ((opt.masks || codes_only) && !opt.metrics.empty())
        throw UsageError("--metrics chooses image-quality metrics; it does not apply here");
    if (opt.codes == "-" && (opt.ref_list == "-" || opt.dist_list == "-"))
        throw UsageError("'-' (stdin) can be given only once");
    if (opt.codes == "-" && is_terminal(STDIN_FILENO))
        throw UsageError("--codes -: standard input is a terminal; pipe a code stream or give a file");
}

// The user's LPIPS and FID networks: lpips per compared pair, features collected for the FID of the two sets.
// Pairs are fed serially (the networks run their own threads).
struct Perceptual {
    std::optional<PerceptualNet> lpips, fidnet;
    std::vector<double> feat_a, feat_b;
    size_t feat_dim = 0;

    Perceptual(const MetricsOptions& opt, Device device) {
        if (!opt.lpips_model.empty()) lpips = PerceptualNet::load(opt.lpips_model, PerceptualNet::Kind::Lpips, device);
        if (!opt.fid_model.empty())
            fidnet = PerceptualNet::load(opt.fid_model, PerceptualNet::Kind::Features, device);
    }
    bool any() const { return lpips || fidnet; }
    void add(Item& it, const Image& a, const Image& b) {
        if (lpips) it.v["lpips"] = lpips->distance(a, b);
        if (fidnet) {
            auto fa = fidnet->features(a), fb = fidnet->features(b);
            feat_dim = fa.size();
            feat_a.insert(feat_a.end(), fa.begin(), fa.end());
            feat_b.insert(feat_b.end(), fb.begin(), fb.end());
        }
    }
    // The FID over the n pairs fed, into the report's set-level numbers.
    void finish(Report& rep) const {
        if (!fidnet) return;
        const size_t n = rep.items.size();
        try {
            rep.set_level["fid"] =
                frechet_distance(feature_statistics(feat_a, n, feat_dim), feature_statistics(feat_b, n, feat_dim));
        } catch (const Error& e) {
            throw Error(std::string("FID: ") + e.what());
        }
    }
};

// --check names that this mode does not compute are refused before any work.
void check_names(const std::vector<MetricCheck>& checks, const MetricsOptions& opt, const Report& rep,
                 bool codes_only, bool fid) {
    std::set<std::string> avail;
    const std::vector<std::string> stats{"hoyer", "zero_fraction", "nnz_per_vector", "atoms_used", "bpp"};
    if (opt.masks) {
        avail = {"iou", "dice"};
    } else if (codes_only) {
        avail.insert(stats.begin(), stats.end());
    } else {
        avail.insert(rep.columns.begin(), rep.columns.end());
        if (fid) avail.insert("fid");
        if (!opt.codes.empty()) avail.insert(stats.begin(), stats.end());
    }
    for (const auto& c : checks)
        if (!avail.count(c.metric)) {
            std::string known;
            for (const auto& k : avail) known += (known.empty() ? "" : ", ") + k;
            throw UsageError("--check: '" + c.metric + "' is not computed here (available: " + known + ")");
        }
}

// Every record of the code stream `in` into the report's code statistics; `each` (if given) also sees each
// record, with "<stream>: record N" for messages and its number from 1.
void read_code_stream(InputFile& in, Report& rep,
                      const std::function<void(const CodeRecord&, const std::string&, uint64_t)>& each = nullptr) {
    CodeReader reader(in.get(), in.name());
    CodeStatsAccumulator acc;
    CodeRecord rec;
    uint64_t before = 0;
    while (reader.next(rec)) {
        const std::string where = in.name() + ": record " + std::to_string(reader.records_read());
        try {
            rep.records.push_back(acc.add(rec, reader.bytes_read() - before));
        } catch (const Error& e) {
            throw Error(where + ": " + e.what());
        }
        before = reader.bytes_read();
        if (each) each(rec, where, reader.records_read());
    }
    if (reader.records_read() == 0) throw Error(in.name() + ": no records in the code stream");
    rep.code_stats = acc.result();
    add_stats_summary(rep.set_level, *rep.code_stats);
}

// --masks PRED GT: IoU and Dice per pair.
void measure_masks(const MetricsOptions& opt, int threads, Report& rep) {
    rep.mode = "masks";
    rep.columns = {"iou", "dice"};
    const auto pairs = gather_pairs(opt);
    rep.items.resize(pairs.size());
    parallel_for(pairs.size(), threads, [&](size_t i) {
        Item& it = rep.items[i];
        it.name = pairs[i].name;
        it.a = pairs[i].a;
        it.b = pairs[i].b;
        const MaskScores s = mask_scores(read_image(it.a), read_image(it.b));
        it.v["iou"] = s.iou;
        it.v["dice"] = s.dice;
    });
}

// --codes CODES alone: the code statistics.
void measure_code_stats(const MetricsOptions& opt, Report& rep) {
    rep.mode = "codes";
    rep.columns.clear();
    InputFile in(opt.codes);
    read_code_stream(in, rep);
}

// REF --codes CODES: each record decoded with the model and compared with its reference image (by stem).
void measure_codes_against(const MetricsOptions& opt, const Selection& sel, Device device, Perceptual& perc,
                           Report& rep) {
    rep.mode = "codes";
    std::vector<std::string> refs;
    if (!opt.ref_list.empty()) {
        if (!opt.dist_list.empty()) throw UsageError("--dist-list does not go with --codes");
        if (!opt.inputs.empty()) throw UsageError("give either REF or --ref-list, not both");
        refs = read_list_file(opt.ref_list);
        if (refs.empty()) throw Error(display_name(opt.ref_list) + ": the list is empty");
    } else {
        if (opt.inputs.size() != 1) throw UsageError("--codes compares with one REF (a folder or an image file)");
        refs = is_dir(opt.inputs[0]) ? list_images(opt.inputs[0]) : std::vector<std::string>{opt.inputs[0]};
    }
    const std::string where_refs = opt.ref_list.empty() ? opt.inputs[0] : display_name(opt.ref_list);
    const auto ref_by_stem = by_stem(refs, where_refs);
    const bool one_image = refs.size() == 1 && opt.ref_list.empty() && !is_dir(opt.inputs[0]);
    Codec codec = Codec::load(opt.model.value_or(default_model_path()), device);
    InputFile in(opt.codes);
    std::set<std::string> used;
    read_code_stream(in, rep, [&](const CodeRecord& rec, const std::string& where, uint64_t number) {
        std::string ref;
        if (one_image) {
            if (number > 1) throw Error(in.name() + ": more than one record, but REF is one image; give a folder");
            ref = refs[0];
        } else {
            auto it = ref_by_stem.find(path_stem(rec.source));
            if (it == ref_by_stem.end())
                throw Error(where + " (source " + rec.source + "): no reference image named '" +
                            path_stem(rec.source) + "' in " + where_refs);
            ref = it->second;
        }
        if (!used.insert(ref).second) throw Error(where + ": a second record for " + ref);
        if (rec.fingerprint != codec.fingerprint() && !opt.force)
            throw Error(where + ": made by model " + rec.fingerprint + ", not by " + codec.fingerprint() +
                        " (use --model, or --force to decode anyway)");
        Image dec;
        try {
            dec = codec.decode(rec);
        } catch (const Error& e) {
            throw Error(where + ": " + e.what());
        }
        if (rec.image_channels == 1) dec = to_channels(dec, 1);  // as scvae-decode writes a gray source
        quantise8(dec);
        Image a = read_image(ref);
        harmonise(a, dec);
        Item it;
        it.name = ref;
        it.a = ref;
        it.b = in.name() + "#" + std::to_string(number);
        quality_metrics(it, a, dec, sel);
        perc.add(it, a, dec);
        rep.items.push_back(std::move(it));
    });
    for (const auto& r : refs)
        if (!used.count(r)) throw Error(in.name() + ": no record for the reference image " + r);
}

// REF DIST (folders or images) or --ref-list/--dist-list: the image metrics per pair.
void measure_pairs(const MetricsOptions& opt, const Selection& sel, int threads, Perceptual& perc, Report& rep) {
    rep.mode = "pairs";
    const auto pairs = gather_pairs(opt);
    rep.items.resize(pairs.size());
    parallel_for(pairs.size(), perc.any() ? 1 : threads, [&](size_t i) {
        Item& it = rep.items[i];
        it.name = pairs[i].name;
        it.a = pairs[i].a;
        it.b = pairs[i].b;
        Image a = read_image(it.a), b = read_image(it.b);
        harmonise(a, b);
        quality_metrics(it, a, b, sel);
        perc.add(it, a, b);
    });
}

// --check: every condition, with a message for each that fails; kExitData when one did.
int run_checks(const std::vector<MetricCheck>& checks, const Report& rep) {
    const auto values = check_values(rep);
    int failed = 0;
    for (const auto& c : checks) {
        auto it = values.find(c.metric);
        if (it == values.end()) throw Error("--check: '" + c.metric + "' was not computed");
        if (!check_passes(c, it->second)) {
            warn("check failed: " + c.metric + " = " + fmt(it->second, 8) + ", wanted " + c.op + " " + fmt(c.value, 8));
            ++failed;
        }
    }
    return failed ? kExitData : kExitOk;
}

}  // namespace

int metrics_main(const MetricsOptions& opt) {
    const Selection sel = parse_selection(opt.metrics);
    std::vector<MetricCheck> checks;
    if (!opt.check.empty()) checks = parse_checks(opt.check);
    const bool perceptual = !opt.lpips_model.empty() || !opt.fid_model.empty();
    const bool codes_only = !opt.codes.empty() && opt.inputs.empty() && opt.ref_list.empty();
    check_options(opt, codes_only, perceptual);
    protect_inputs(opt.inputs);
    protect_inputs({opt.codes, opt.ref_list, opt.dist_list});
    set_threads(opt.threads.value_or(0));
    const int threads = opt.threads.value_or(available_cpus());
    const Device device = parse_device(opt.device);
    Perceptual perc(opt, device);

    Report rep;
    if (sel.psnr) rep.columns.push_back("psnr");
    if (sel.mse) rep.columns.push_back("mse");
    if (sel.ssim) rep.columns.push_back("ssim");
    if (sel.ms_ssim) rep.columns.push_back("ms_ssim");
    if (perc.lpips) rep.columns.push_back("lpips");
    check_names(checks, opt, rep, codes_only, perc.fidnet.has_value());

    if (opt.masks)
        measure_masks(opt, threads, rep);
    else if (codes_only)
        measure_code_stats(opt, rep);
    else if (!opt.codes.empty())
        measure_codes_against(opt, sel, device, perc, rep);
    else
        measure_pairs(opt, sel, threads, perc, rep);
    aggregate_items(rep);
    perc.finish(rep);

    // Output first (so a failed check still shows the numbers), then the checks.
    const std::string text = render(rep, opt);
    AtomicOutput out(opt.output);
    out.write(text.data(), text.size());
    out.commit();
    return checks.empty() ? kExitOk : run_checks(checks, rep);
}

}  // namespace scvae
