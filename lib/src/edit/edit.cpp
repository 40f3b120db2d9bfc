// edit.cpp - scvae-edit: set/add/scale code components, traversals and interpolations (scvae/edit.h).
#include "scvae/edit.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "scvae/error.h"
#include "scvae/io.h"

namespace scvae {

namespace {

const char* op_name(EditOp op) {
    switch (op) {
        case EditOp::Set: return "set";
        case EditOp::Add: return "add";
        default: return "scale";
    }
}


std::string pos_text(const std::vector<GridPos>& at) {
    std::string s;
    for (size_t i = 0; i < at.size(); ++i) {
        if (i) s += "+";
        s += std::to_string(at[i].row) + "," + std::to_string(at[i].col);
    }
    return s;
}

void check_atom(const CodeRecord& rec, uint32_t atom) {
    if (atom >= rec.K)
        throw Error("atom " + std::to_string(atom) + " is out of range (the model has K=" + std::to_string(rec.K) +
                    " atoms, 0.." + std::to_string(rec.K ? rec.K - 1 : 0) + ")");
}

void check_positions(const CodeRecord& rec, const std::vector<GridPos>& at) {
    for (const auto& p : at)
        if (p.row >= rec.grid_h || p.col >= rec.grid_w)
            throw Error("--at " + std::to_string(p.row) + "," + std::to_string(p.col) + " is outside the " +
                        std::to_string(rec.grid_h) + "x" + std::to_string(rec.grid_w) +
                        " grid (rows 0.." + std::to_string(rec.grid_h ? rec.grid_h - 1 : 0) + ", columns 0.." +
                        std::to_string(rec.grid_w ? rec.grid_w - 1 : 0) + ")");
}

// Grid positions (row-major indices) selected by `at`; every position when empty.
std::vector<size_t> selected(const CodeRecord& rec, const std::vector<GridPos>& at) {
    std::vector<size_t> out;
    if (at.empty()) {
        out.resize(rec.positions());
        for (size_t p = 0; p < out.size(); ++p) out[p] = p;
    } else {
        for (const auto& g : at) out.push_back(static_cast<size_t>(g.row) * rec.grid_w + g.col);
        std::sort(out.begin(), out.end());
        out.erase(std::unique(out.begin(), out.end()), out.end());
    }
    return out;
}

// Code values are finite with |v| <= 1e15 (scvae-codes(5)); an edit may not make one outside that range.
void finite_or_throw(float v, uint32_t atom) {
    if (!std::isfinite(v) || std::fabs(v) > 1e15f)
        throw Error("the edit of atom " + std::to_string(atom) + " gives a value out of range (|value| at most 1e15)");
}


}  // namespace

uint32_t most_used_atom(const CodeRecord& rec, uint32_t n) {
    std::vector<uint64_t> uses(rec.K, 0);
    for (size_t i = 0; i < rec.indices.size(); ++i)
        if (rec.values[i] != 0 && rec.indices[i] < rec.K) ++uses[rec.indices[i]];
    std::vector<uint32_t> used;
    for (uint32_t a = 0; a < rec.K; ++a)
        if (uses[a]) used.push_back(a);
    if (used.size() < n)
        throw Error("top" + std::to_string(n) + ": the record uses only " + std::to_string(used.size()) + " atom" +
                    (used.size() == 1 ? "" : "s"));
    std::stable_sort(used.begin(), used.end(), [&](uint32_t a, uint32_t b) { return uses[a] > uses[b]; });
    return used[n - 1];
}

std::vector<AtomEdit> resolve_top_atoms(const std::vector<AtomEdit>& edits, const CodeRecord& rec) {
    std::vector<AtomEdit> out = edits;
    for (auto& e : out)
        if (e.top) {
            e.atom = most_used_atom(rec, e.top);
            e.top = 0;
        }
    return out;
}

std::string format_value(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

std::string edits_tag(const std::vector<AtomEdit>& edits, const std::vector<GridPos>& at) {
    std::string s;
    for (size_t i = 0; i < edits.size(); ++i) {
        if (i) s += ",";
        s += op_name(edits[i].op) + std::to_string(edits[i].atom) + "=" + format_value(edits[i].value);
    }
    if (!at.empty() && !s.empty()) s += "@" + pos_text(at);
    return s;
}

std::string tagged_source(const std::string& source, const std::string& tag) {
    if (tag.empty()) return source;
    const size_t slash = source.find_last_of('/');
    const size_t start = slash == std::string::npos ? 0 : slash + 1;
    const size_t dot = source.find_last_of('.');
    if (dot != std::string::npos && dot > start) return source.substr(0, dot) + "~" + tag + source.substr(dot);
    return source + "~" + tag;
}

void apply_edits(CodeRecord& rec, const std::vector<AtomEdit>& edits, const std::vector<GridPos>& at) {
    if (edits.empty()) return;
    for (const auto& e : edits) check_atom(rec, e.atom);
    check_positions(rec, at);
    std::vector<float> dense = rec.dense_matrix();
    for (size_t p : selected(rec, at)) {
        float* row = dense.data() + p * rec.K;
        for (const auto& e : edits) {
            float& v = row[e.atom];
            switch (e.op) {
                case EditOp::Set: v = e.value; break;
                case EditOp::Add: v = v + e.value; break;
                case EditOp::Scale: v = v * e.value; break;
            }
            finite_or_throw(v, e.atom);
        }
    }
    rec.set_dense(dense.data(), rec.positions(), rec.K);
}

std::vector<CodeRecord> traverse_record(const CodeRecord& rec, uint32_t atom, double from, double to, int steps,
                                        const std::vector<GridPos>& at) {
    if (steps < 1) throw InvalidArgument("traverse: steps must be at least 1");
    if (!(std::fabs(from) <= 1e15) || !(std::fabs(to) <= 1e15))
        throw InvalidArgument("--from and --to: code values lie within -1e15..1e15");
    check_atom(rec, atom);
    check_positions(rec, at);
    const std::vector<float> base = rec.dense_matrix();
    const auto sel = selected(rec, at);
    const std::string where = at.empty() ? "" : "@" + pos_text(at);
    std::vector<CodeRecord> out;
    out.reserve(steps);
    for (int i = 0; i < steps; ++i) {
        const double v = steps == 1 ? from : from + (to - from) * i / (steps - 1);
        std::vector<float> dense = base;
        for (size_t p : sel) dense[p * rec.K + atom] = static_cast<float>(v);
        CodeRecord r = rec;
        r.set_dense(dense.data(), rec.positions(), rec.K);
        r.source = tagged_source(rec.source, "traverse" + std::to_string(atom) + where + "=" + format_value(v));
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<CodeRecord> interpolate_records(const CodeRecord& a, const CodeRecord& b, int steps) {
    if (steps < 2) throw InvalidArgument("interpolate: steps must be at least 2 (the two ends included)");
    if (a.fingerprint != b.fingerprint)
        throw Error("cannot interpolate codes of different models (fingerprints " + a.fingerprint + " and " +
                    b.fingerprint + ")");
    if (a.n != b.n || a.K != b.K || a.d != b.d)
        throw Error("cannot interpolate codes of different model shapes (n, K, d = " + std::to_string(a.n) + ", " +
                    std::to_string(a.K) + ", " + std::to_string(a.d) + " vs " + std::to_string(b.n) + ", " +
                    std::to_string(b.K) + ", " + std::to_string(b.d) + ")");
    if (a.grid_h != b.grid_h || a.grid_w != b.grid_w)
        throw Error("cannot interpolate codes of different grids (" + std::to_string(a.grid_h) + "x" +
                    std::to_string(a.grid_w) + " vs " + std::to_string(b.grid_h) + "x" + std::to_string(b.grid_w) +
                    "); encode images of the same size");
    const std::vector<float> da = a.dense_matrix(), db = b.dense_matrix();
    const std::string other = path_stem(b.source);
    std::vector<CodeRecord> out;
    out.reserve(steps);
    std::vector<float> mix(da.size());
    for (int i = 0; i < steps; ++i) {
        const double t = static_cast<double>(i) / (steps - 1);
        for (size_t j = 0; j < da.size(); ++j)
            mix[j] = i == 0 ? da[j] : i == steps - 1 ? db[j] : static_cast<float>((1 - t) * da[j] + t * db[j]);
        CodeRecord r = a;
        r.set_dense(mix.data(), a.positions(), a.K);
        r.source = tagged_source(a.source, "interp(" + other + ")=" + format_value(t));
        out.push_back(std::move(r));
    }
    return out;
}

}  // namespace scvae
