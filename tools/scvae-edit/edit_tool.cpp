// edit_tool.cpp - scvae-edit: its value syntax (ATOM=VALUE, ROW,COL, --interpolate A B) and the driver over
// the library's edits (scvae/edit.h).
#include "scvae-edit/edit_tool.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "cli.h"
#include "options.h"
#include "scvae/codes.h"
#include "scvae/error.h"
#include "scvae/io.h"

namespace scvae {

namespace {

bool all_digits(const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return c >= '0' && c <= '9'; });
}

uint32_t parse_u32(const std::string& option, const std::string& s, const std::string& what) {
    if (!all_digits(s) || s.size() > 9) throw UsageError(option + ": expected " + what + ", got '" + s + "'");
    return static_cast<uint32_t>(std::strtoul(s.c_str(), nullptr, 10));
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
