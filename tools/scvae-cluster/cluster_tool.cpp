// cluster_tool.cpp - scvae-cluster: k-means over every grid position's code vector of a stream, assignments as
// JSON Lines or TSV, centroid files and the Figure 7 mosaic.
#include "scvae-cluster/cluster_tool.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <random>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "scvae/error.h"
#include "scvae/image.h"
#include "scvae/io.h"
#include "scvae/montage.h"

namespace scvae {

// ---- scvae-cluster ----

namespace {

struct Corpus {
    std::vector<CodeRecord> records;   // CSR only: much smaller than the dense matrix
    std::vector<size_t> offset;        // first global vector index of each record
    size_t total = 0;
    uint32_t K = 0;
};

void densify(const CodeRecord& rec, size_t p0, size_t count, float* out) {
    std::fill(out, out + count * rec.K, 0.0f);
    for (size_t i = 0; i < count; ++i) {
        size_t p = p0 + i;
        float* row = out + i * rec.K;
        for (uint32_t j = rec.row_ptr[p]; j < rec.row_ptr[p + 1]; ++j) row[rec.indices[j]] = rec.values[j];
    }
}

Corpus read_corpus(const std::vector<std::string>& inputs) {
    Corpus c;
    size_t n = 0;  // record number within the current input, from 1 (as CodeReader counts)
    std::string current;
    for_each_record(inputs, [&](CodeRecord& rec, const std::string& input) {
        if (input != current) {
            current = input;
            n = 0;
        }
        ++n;
        if (!c.records.empty()) {
            const CodeRecord& f = c.records.front();
            std::string where = input + ": record " + std::to_string(n);
            if (!rec.same_model(f) || rec.K != f.K)
                throw Error(where + ": codes of model " + rec.fingerprint + " (K=" + std::to_string(rec.K) +
                            ") mixed with model " + f.fingerprint + " (K=" + std::to_string(f.K) +
                            "); one clustering run needs codes of one model");
            if (rec.grid_h != f.grid_h || rec.grid_w != f.grid_w)
                throw Error(where + ": grid " + std::to_string(rec.grid_h) + "x" + std::to_string(rec.grid_w) +
                            " differs from the first record's " + std::to_string(f.grid_h) + "x" +
                            std::to_string(f.grid_w) + "; one clustering run needs one grid size");
        }
        c.offset.push_back(c.total);
        c.total += rec.positions();
        c.K = rec.K;
        c.records.push_back(std::move(rec));
        rec = CodeRecord();
    });
    return c;
}

// (record, position) of a global vector index.
std::pair<size_t, size_t> locate(const Corpus& c, size_t g) {
    size_t r = static_cast<size_t>(std::upper_bound(c.offset.begin(), c.offset.end(), g) - c.offset.begin()) - 1;
    return {r, g - c.offset[r]};
}

std::vector<size_t> sample_indices(size_t n, size_t m, uint64_t seed) {
    std::vector<size_t> idx(n);
    std::iota(idx.begin(), idx.end(), size_t(0));
    if (m >= n) return idx;
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < m; ++i) {
        size_t j = i + static_cast<size_t>(rng() % (n - i));
        std::swap(idx[i], idx[j]);
    }
    idx.resize(m);
    std::sort(idx.begin(), idx.end());
    return idx;
}


std::string tsv_escape(const std::string& s) {
    std::string o;
    for (char ch : s) {
        if (ch == '\t') o += "\\t";
        else if (ch == '\n') o += "\\n";
        else if (ch == '\\') o += "\\\\";
        else o += ch;
    }
    return o;
}

void draw_mosaic(const ClusterOptions& opt, const Corpus& corpus, const Centroids& cent,
                 const std::vector<int32_t>& labels, const std::vector<float>& dist) {
    const CodeRecord& first = corpus.records.front();
    const int P = 1 << first.d;
    const int scale = opt.patch_scale ? *opt.patch_scale : std::max(1, (16 + P - 1) / P);
    const int cell = P * scale, gap = 2;
    std::vector<std::vector<size_t>> members(cent.k);
    for (size_t g = 0; g < labels.size(); ++g) members[static_cast<size_t>(labels[g])].push_back(g);
    std::vector<size_t> rows;
    for (size_t k = 0; k < cent.k; ++k)
        if (!members[k].empty()) rows.push_back(k);
    std::mt19937_64 rng(opt.kmeans.seed ^ 0x9e3779b97f4a7c15ULL);
    if (opt.rows && static_cast<size_t>(*opt.rows) < rows.size()) {
        for (size_t i = 0; i < static_cast<size_t>(*opt.rows); ++i)
            std::swap(rows[i], rows[i + rng() % (rows.size() - i)]);
        rows.resize(static_cast<size_t>(*opt.rows));
        std::sort(rows.begin(), rows.end());
    }
    const int per_row = std::max(1, opt.per_row);
    // Every row starts with a label band: "<cluster id> n=<cluster size>" in the 5x7 font; rows are at least
    // 9 pixels high so the text fits (the patches are centred in taller rows).
    std::vector<std::string> row_label;
    int band = 0;
    for (size_t k : rows) {
        row_label.push_back(std::to_string(k) + " n=" + std::to_string(members[k].size()));
        band = std::max(band, text_width(row_label.back(), 1) + 6);
    }
    const int row_h = std::max(cell, text_height(1) + 2);
    // A patch is 2^d pixels wide; the mosaic is refused beyond the image limit rather than allocated.
    const uint64_t mw = gap + uint64_t(band) + uint64_t(per_row) * uint64_t(cell + gap),
                   mh = gap + rows.size() * uint64_t(row_h + gap);
    if (mw * mh > ImageLimits().max_pixels)
        throw error_at(display_name(*opt.mosaic, true),
                       "a mosaic of " + std::to_string(mw) + "x" + std::to_string(mh) + " pixels is too large (limit " +
                           std::to_string(ImageLimits().max_pixels) +
                           " pixels); use fewer --rows or --per-row, or a smaller --patch-scale");
    Image m;
    m.width = static_cast<int>(mw);
    m.height = static_cast<int>(mh);
    m.channels = 3;
    m.data.assign(m.pixels() * 3, 0.15f);
    for (size_t ri = 0; ri < rows.size(); ++ri)
        draw_text(m, gap + 2, gap + static_cast<int>(ri) * (row_h + gap) + (row_h - text_height(1)) / 2, row_label[ri], 1,
                  0.92f);
    // Patches to cut, grouped by record so each image is read once.
    struct Slot {
        size_t pos;
        int x, y;
    };
    std::map<size_t, std::vector<Slot>> by_record;
    for (size_t ri = 0; ri < rows.size(); ++ri) {
        std::vector<size_t>& mem = members[rows[ri]];
        size_t take = std::min(mem.size(), static_cast<size_t>(per_row));
        for (size_t i = 0; i < take; ++i) std::swap(mem[i], mem[i + rng() % (mem.size() - i)]);
        std::vector<size_t> chosen(mem.begin(), mem.begin() + static_cast<long>(take));
        std::stable_sort(chosen.begin(), chosen.end(), [&](size_t a, size_t b) { return dist[a] < dist[b]; });
        for (size_t i = 0; i < chosen.size(); ++i) {
            auto [r, p] = locate(corpus, chosen[i]);
            by_record[r].push_back({p, gap + band + static_cast<int>(i) * (cell + gap),
                                    gap + static_cast<int>(ri) * (row_h + gap) + (row_h - cell) / 2});
        }
    }
    for (auto& [r, slots] : by_record) {
        const CodeRecord& rec = corpus.records[r];
        std::string path = find_source_image(rec.source, opt.images_dir, "mosaic");
        Image img = to_rgb(read_image(path));
        if (static_cast<uint32_t>(img.width) != rec.image_width || static_cast<uint32_t>(img.height) != rec.image_height)
            throw error_at(display_name(path), "image is " + std::to_string(img.width) + "x" +
                                                   std::to_string(img.height) + " but its codes (record " +
                                                   std::to_string(r + 1) + ") were made from a " +
                                                   std::to_string(rec.image_width) + "x" +
                                                   std::to_string(rec.image_height) + " image");
        auto reflect = [](int v, int n) {
            if (n == 1) return 0;
            int period = 2 * (n - 1);
            v %= period;
            if (v < 0) v += period;
            return v < n ? v : period - v;
        };
        for (const Slot& s : slots) {
            int row = static_cast<int>(s.pos / rec.grid_w), col = static_cast<int>(s.pos % rec.grid_w);
            for (int y = 0; y < cell; ++y) {
                int sy = reflect(row * P + y / scale, img.height);
                for (int x = 0; x < cell; ++x) {
                    int sx = reflect(col * P + x / scale, img.width);
                    for (int ch = 0; ch < 3; ++ch) m.at(s.y + y, s.x + x, ch) = img.at(sy, sx, ch);
                }
            }
        }
    }
    write_image(*opt.mosaic, m);
}

}  // namespace


int cluster_main(const ClusterOptions& opt) {
    set_faiss_threads(opt.threads.value_or(0));
    Centroids cent;
    const bool reuse = opt.centroids.has_value();
    if (reuse) {
        cent = load_centroids(*opt.centroids);
        if (opt.k_given && static_cast<size_t>(opt.kmeans.k) != cent.k)
            throw UsageError("-k " + std::to_string(opt.kmeans.k) + " contradicts --centroids (k=" +
                             std::to_string(cent.k) + ")");
    }
    if (opt.output != "-" && opt.output == opt.mosaic)
        throw UsageError("-o and --mosaic name the same file");
    protect_inputs(opt.inputs);
    if (reuse) protect_inputs({*opt.centroids});
    Corpus corpus = read_corpus(opt.inputs);
    if (corpus.records.empty()) throw Error(input_names(opt.inputs) + ": no code records (empty stream)");
    if (corpus.total == 0) throw Error("the code records hold no grid positions");
    const CodeRecord& first = corpus.records.front();
    const size_t dim = corpus.K;
    size_t nnz = 0;
    for (const CodeRecord& rec : corpus.records) nnz += rec.nnz();
    const bool sparse = opt.distances == "sparse" || (opt.distances == "auto" && sparse_kmeans_pays(corpus.total, nnz, dim));
    if (reuse) {
        if (cent.dim != dim)
            throw Error(display_name(*opt.centroids) + ": centroids have " + std::to_string(cent.dim) +
                        " dimensions but the codes have K=" + std::to_string(dim));
        if (!cent.fingerprint.empty() && cent.fingerprint != first.fingerprint)
            throw Error(display_name(*opt.centroids) + ": centroids were trained on codes of model " + cent.fingerprint +
                        ", not " + first.fingerprint);
    } else {
        const size_t k = static_cast<size_t>(opt.kmeans.k);
        if (k > corpus.total)
            throw Error("k (" + std::to_string(k) + ") is larger than the number of code vectors (" +
                        std::to_string(corpus.total) + ")");
        size_t m = opt.max_points ? static_cast<size_t>(*opt.max_points) : std::max(k, std::min(corpus.total, 256 * k));
        m = std::min(m, corpus.total);
        if (m < k)
            throw UsageError("--max-points " + std::to_string(m) + " is smaller than k (" + std::to_string(k) + ")");
        std::vector<size_t> idx = sample_indices(corpus.total, m, opt.kmeans.seed);
        if (opt.verbose)
            warn("training k-means: " + std::to_string(m) + " of " + std::to_string(corpus.total) + " vectors, K=" +
                 std::to_string(dim) + ", k=" + std::to_string(k) + (sparse ? " (sparse products)" : ""));
        if (sparse) {
            SparseRows train;
            train.dim = dim;
            for (size_t i = 0; i < m; ++i) {
                auto [r, p] = locate(corpus, idx[i]);
                const CodeRecord& rec = corpus.records[r];
                train.add_row(rec.indices.data() + rec.row_ptr[p], rec.values.data() + rec.row_ptr[p],
                              rec.row_ptr[p + 1] - rec.row_ptr[p]);
            }
            idx = std::vector<size_t>();
            cent = kmeans_train_sparse(train, opt.kmeans);
        } else {
            std::vector<float> train(m * dim);
            for (size_t i = 0; i < m; ++i) {
                auto [r, p] = locate(corpus, idx[i]);
                densify(corpus.records[r], p, 1, train.data() + i * dim);
            }
            idx = std::vector<size_t>();
            cent = kmeans_train(train.data(), m, dim, opt.kmeans);
        }
        cent.fingerprint = first.fingerprint;
        cent.grid_h = first.grid_h;
        cent.grid_w = first.grid_w;
        cent.d = first.d;
    }
    // Assign every vector: sparse rows a record at a time, or dense blocks of positions.
    std::vector<int32_t> labels(corpus.total);
    std::vector<float> dist(corpus.total);
    if (sparse) {
        std::vector<int64_t> lab;
        for (size_t r = 0; r < corpus.records.size(); ++r) {
            const CodeRecord& rec = corpus.records[r];
            SparseRows rows;
            rows.dim = dim;
            rows.ptr.assign(rec.row_ptr.begin(), rec.row_ptr.end());
            rows.idx.assign(rec.indices.begin(), rec.indices.end());
            rows.val = rec.values;
            lab.resize(rec.positions());
            kmeans_assign_sparse(cent, rows, lab.data(), dist.data() + corpus.offset[r]);
            for (size_t i = 0; i < lab.size(); ++i) labels[corpus.offset[r] + i] = static_cast<int32_t>(lab[i]);
        }
    } else {
        // at most 8192 vectors or 64 MiB a block, whatever K says
        const size_t block = std::max<size_t>(1, std::min<size_t>({8192, corpus.total, (size_t(1) << 24) / dim}));
        std::vector<float> buf(block * dim);
        std::vector<int64_t> lab(block);
        size_t g = 0;
        while (g < corpus.total) {
            size_t n = 0;
            size_t start = g;
            while (n < block && g < corpus.total) {
                auto [r, p] = locate(corpus, g);
                const CodeRecord& rec = corpus.records[r];
                size_t cnt = std::min(block - n, rec.positions() - p);
                densify(rec, p, cnt, buf.data() + n * dim);
                n += cnt;
                g += cnt;
            }
            kmeans_assign(cent, buf.data(), n, lab.data(), dist.data() + start);
            for (size_t i = 0; i < n; ++i) labels[start + i] = static_cast<int32_t>(lab[i]);
        }
    }
    cent.points = corpus.total;
    if (opt.verbose) {
        double sum = 0;
        for (float v : dist) sum += v;
        warn(std::to_string(corpus.records.size()) + " records, " + std::to_string(corpus.total) +
             " vectors, mean distance " + std::to_string(sum / static_cast<double>(corpus.total)));
    }
    // Assignments.
    {
        AtomicOutput out(opt.output);
        FILE* f = out.get();
        if (opt.tsv) std::fputs("record\tsource\trow\tcol\tcluster\tdistance\n", f);
        for (size_t r = 0; r < corpus.records.size(); ++r) {
            const CodeRecord& rec = corpus.records[r];
            std::string src = opt.tsv ? tsv_escape(rec.source) : nlohmann::json(rec.source).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
            for (size_t p = 0; p < rec.positions(); ++p) {
                size_t g = corpus.offset[r] + p;
                unsigned row = static_cast<unsigned>(p / rec.grid_w), col = static_cast<unsigned>(p % rec.grid_w);
                if (opt.tsv)
                    std::fprintf(f, "%zu\t%s\t%u\t%u\t%d\t%.6g\n", r, src.c_str(), row, col, labels[g],
                                 static_cast<double>(dist[g]));
                else
                    std::fprintf(f, "{\"record\":%zu,\"source\":%s,\"row\":%u,\"col\":%u,\"cluster\":%d,\"distance\":%.6g}\n",
                                 r, src.c_str(), row, col, labels[g], static_cast<double>(dist[g]));
            }
        }
        if (std::ferror(f)) throw Error(out.name() + ": write error: " + std::strerror(errno ? errno : EIO));
        // The mosaic and centroid file first, so a missing image leaves no partial set of outputs behind.
        if (opt.mosaic) draw_mosaic(opt, corpus, cent, labels, dist);
        if (opt.save_centroids) save_centroids(*opt.save_centroids, cent);
        out.commit();
    }
    return kExitOk;
}


}  // namespace scvae
