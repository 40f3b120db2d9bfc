// edit.cpp - scvae-edit: set/add/scale code components, traversals and interpolations (scvae/edit.h).
#include "scvae/edit.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "scvae/cli.h"
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

bool all_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= '0' && c <= '9'; });
}

uint32_t parse_u32(const std::string& option, const std::string& s, const std::string& what) {
    if (!all_digits(s) || s.size() > 9) throw UsageError(option + ": expected " + what + ", got '" + s + "'");
    return static_cast<uint32_t>(std::strtoul(s.c_str(), nullptr, 10));
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

// Endpoint of --interpolate: an index into the input, or a record of a file.
struct Endpoint {
    bool in_input = false;
    size_t index = 0;
    std::string path;
};


Endpoint parse_endpoint(const std::string& s) {
    Endpoint e;
    if (all_digits(s)) {
        e.in_input = true;
        e.index = std::strtoul(s.c_str(), nullptr, 10);
        return e;
    }
    const size_t colon = s.rfind(':');
    if (!is_regular_file(s) && colon != std::string::npos && colon > 0 && all_digits(s.substr(colon + 1))) {
        e.path = s.substr(0, colon);
        e.index = std::strtoul(s.c_str() + colon + 1, nullptr, 10);
    } else {
        e.path = s;
    }
    return e;
}

CodeRecord record_from_file(const Endpoint& e) {
    InputFile in(e.path);
    CodeReader reader(in.get(), in.name());
    CodeRecord rec;
    for (size_t i = 0; i <= e.index; ++i)
        if (!reader.next(rec))
            throw Error(in.name() + ": no record " + std::to_string(e.index) + " (the stream has " +
                        std::to_string(i) + " record" + (i == 1 ? "" : "s") + "; indices count from 0)");
    return rec;
}

}  // namespace

void parse_atom(const std::string& option, const std::string& text, uint32_t& atom, uint32_t& top) {
    atom = top = 0;
    if (text.rfind("top", 0) == 0) {
        top = parse_u32(option, text.substr(3), "topN with N = 1, 2, ... (the N-th most used atom)");
        if (top == 0) throw UsageError(option + ": expected topN with N = 1, 2, ..., got '" + text + "'");
        return;
    }
    atom = parse_u32(option, text, "an atom index (0, 1, ...) or topN");
}

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

AtomEdit parse_atom_edit(const std::string& option, EditOp op, const std::string& spec) {
    const size_t eq = spec.find('=');
    const char* what = op == EditOp::Set ? "VALUE" : op == EditOp::Add ? "DELTA" : "FACTOR";
    if (eq == std::string::npos)
        throw UsageError(option + ": expected ATOM=" + what + ", got '" + spec + "'");
    AtomEdit e;
    e.op = op;
    parse_atom(option, spec.substr(0, eq), e.atom, e.top);
    const double v = parse_double_option(option, spec.substr(eq + 1));
    if (std::fabs(v) > 3.4e38) throw UsageError(option + ": " + spec.substr(eq + 1) + " does not fit a float");
    e.value = static_cast<float>(v);
    return e;
}

GridPos parse_grid_pos(const std::string& spec) {
    const size_t comma = spec.find(',');
    if (comma == std::string::npos) throw UsageError("--at: expected ROW,COL, got '" + spec + "'");
    GridPos p;
    p.row = parse_u32("--at", spec.substr(0, comma), "ROW,COL (numbers from 0)");
    p.col = parse_u32("--at", spec.substr(comma + 1), "ROW,COL (numbers from 0)");
    return p;
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
    if (steps < 1) throw UsageError("--steps must be at least 1");
    if (!(std::fabs(from) <= 1e15) || !(std::fabs(to) <= 1e15))
        throw UsageError("--from and --to: code values lie within -1e15..1e15");
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
    if (steps < 2) throw UsageError("--interpolate needs --steps of at least 2 (the two ends included)");
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

std::vector<std::string> extract_interpolate(const std::vector<std::string>& args, EditOptions& opt) {
    std::vector<std::string> rest;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--interpolate") {
            if (opt.interpolate) throw UsageError("--interpolate can be given only once");
            if (i + 2 >= args.size())
                throw UsageError("--interpolate needs two codes: A B (record indices of the input, or files)");
            opt.interpolate = true;
            opt.interp_a = args[i + 1];
            opt.interp_b = args[i + 2];
            i += 2;
        } else if (args[i].rfind("--interpolate=", 0) == 0) {
            throw UsageError("--interpolate takes two values: --interpolate A B");
        } else {
            if (args[i] == "--") {
                rest.insert(rest.end(), args.begin() + static_cast<long>(i), args.end());
                break;
            }
            rest.push_back(args[i]);
        }
    }
    return rest;
}

int edit_main(const EditOptions& opt) {
    if (opt.traverse && opt.interpolate) throw UsageError("--traverse and --interpolate cannot be combined");
    if (opt.steps < 1) throw UsageError("--steps must be at least 1");
    if (opt.interpolate && opt.steps < 2)
        throw UsageError("--interpolate needs --steps of at least 2 (the two ends included)");
    if (!opt.json) refuse_binary_to_terminal(opt.output);

    std::vector<std::string> inputs = opt.inputs.empty() ? std::vector<std::string>{"-"} : opt.inputs;
    Endpoint ea, eb;
    bool need_input = true;
    if (opt.interpolate) {
        ea = parse_endpoint(opt.interp_a);
        eb = parse_endpoint(opt.interp_b);
        need_input = ea.in_input || eb.in_input;
        if (!need_input && !opt.inputs.empty())
            throw UsageError("--interpolate with two files reads no other input (got " + opt.inputs[0] + ")");
    }
    size_t stdin_uses = 0;
    for (const auto& p : inputs) stdin_uses += (p == "-");
    if (need_input && stdin_uses > 1) throw UsageError("'-' (stdin) can be given only once");
    if (need_input && stdin_uses && is_terminal(STDIN_FILENO))
        throw UsageError("no input: give CODES... or pipe a code stream into scvae-edit");

    protect_inputs(inputs);
    if (opt.interpolate) protect_inputs({ea.path, eb.path});
    AtomicOutput out(opt.output);
    CodeWriterOptions wopt;
    wopt.encoding = opt.json ? CodesEncoding::Json : CodesEncoding::Binary;
    wopt.half = opt.half;
    CodeWriter writer(out.get(), out.name(), wopt);

    if (opt.interpolate) {
        CodeRecord ra, rb;
        bool have_a = false, have_b = false;
        size_t total = 0;
        std::string first_name;
        if (need_input) {
            const size_t want = std::max(ea.in_input ? ea.index : 0, eb.in_input ? eb.index : 0);
            for (const auto& path : inputs) {
                InputFile in(path);
                if (first_name.empty()) first_name = in.name();
                CodeReader reader(in.get(), in.name());
                CodeRecord rec;
                while (total <= want && reader.next(rec)) {
                    if (ea.in_input && ea.index == total) ra = rec, have_a = true;
                    if (eb.in_input && eb.index == total) rb = rec, have_b = true;
                    ++total;
                }
                if (total > want) break;
            }
        }
        auto missing = [&](const Endpoint& e) {
            return Error((inputs.size() == 1 ? first_name : std::string("the input")) + ": no record " +
                         std::to_string(e.index) + " to interpolate (the input has " + std::to_string(total) +
                         " record" + (total == 1 ? "" : "s") + "; indices count from 0)");
        };
        if (!ea.in_input) ra = record_from_file(ea), have_a = true;
        if (!eb.in_input) rb = record_from_file(eb), have_b = true;
        if (!have_a) throw missing(ea);
        if (!have_b) throw missing(eb);
        std::vector<AtomEdit> edits;
        try {
            edits = resolve_top_atoms(opt.edits, ra);  // one edit for both ends: a's atoms
            apply_edits(ra, edits, opt.at);
            apply_edits(rb, edits, opt.at);
        } catch (const Error& e) {
            throw Error(std::string("--interpolate: ") + e.what());
        }
        const std::string tag = edits_tag(edits, opt.at);
        ra.source = tagged_source(ra.source, tag);
        rb.source = tagged_source(rb.source, tag);
        for (const auto& r : interpolate_records(ra, rb, opt.steps)) writer.write(r);
        out.commit();
        return kExitOk;
    }

    size_t records = 0;
    for (const auto& path : inputs) {
        InputFile in(path);
        CodeReader reader(in.get(), in.name());
        CodeRecord rec;
        while (reader.next(rec)) {
            ++records;
            const std::string where = in.name() + ": record " + std::to_string(reader.records_read());
            // The records are made and checked here, under this input's name; the writer's own errors (which
            // name the output) are not wrapped a second time.
            std::vector<CodeRecord> made;
            try {
                // "topN" atoms are this record's N-th most used ones (before any edit), named by index in the tags
                const uint32_t traverse_atom =
                    opt.traverse && opt.traverse_top ? most_used_atom(rec, opt.traverse_top) : opt.traverse_atom;
                const auto edits = resolve_top_atoms(opt.edits, rec);
                apply_edits(rec, edits, opt.at);
                rec.source = tagged_source(rec.source, edits_tag(edits, opt.at));
                if (opt.traverse)
                    made = traverse_record(rec, traverse_atom, opt.from, opt.to, opt.steps, opt.at);
                else
                    made.push_back(std::move(rec));
                for (const auto& r : made) r.validate();
            } catch (const UsageError&) {
                throw;
            } catch (const Error& e) {
                throw Error(where + ": " + e.what());
            }
            for (const auto& r : made) writer.write(r);
            rec = CodeRecord();
            if (out.is_stdout()) std::fflush(stdout);
        }
    }
    if (records == 0) throw Error((inputs.size() == 1 ? display_name(inputs[0]) : "the input") + ": no records in the code stream");
    out.commit();
    return kExitOk;
}

}  // namespace scvae
