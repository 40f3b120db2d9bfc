// scvae-edit - a filter on sparse-code streams: set/add/scale components, traversals, interpolations.
#include <cmath>

#include "options.h"
#include "scvae-edit/edit_tool.h"

static scvae::EditOptions parse(int argc, char** argv) {
    scvae::EditOptions opt;
    // "--interpolate A B" takes two values, which the option parser cannot express: take it out first.
    std::vector<std::string> rest = scvae::extract_interpolate(std::vector<std::string>(argv + 1, argv + argc), opt);
    rest.insert(rest.begin(), argv[0]);
    std::vector<char*> args;
    for (auto& s : rest) args.push_back(s.data());
    using scvae::EditOp;
    auto edit = [&opt](const char* option, EditOp op) {
        return [&opt, option, op](const std::string& v) { opt.edits.push_back(scvae::parse_atom_edit(option, op, v)); };
    };
    std::optional<double> from, to;
    std::optional<std::string> traverse;
    bool interpolate_help = false;  // --interpolate is taken out above; listed here for --help
    scvae::OptionTable t("scvae-edit", "Edit, traverse or interpolate SC-VAE sparse codes (a filter: stdin to stdout).\n"
                                       "Usage: scvae-edit [options] [CODES...] > edited.scv");
    // The order of --set/--add/--scale matters: they apply in command-line order.
    t.custom("set", "ATOM=VALUE", "set component ATOM to VALUE (repeatable, applied in order)", edit("--set", EditOp::Set), "", true);
    t.custom("add", "ATOM=DELTA", "add DELTA to component ATOM (repeatable)", edit("--add", EditOp::Add), "", true);
    t.custom("scale", "ATOM=FACTOR", "multiply component ATOM by FACTOR (repeatable)", edit("--scale", EditOp::Scale), "", true);
    t.custom("at", "ROW,COL", "only at grid position ROW,COL (repeatable; default: every position)",
             [&](const std::string& v) { opt.at.push_back(scvae::parse_grid_pos(v)); }, "", true);
    t.text("traverse", "ATOM",
           "emit --steps records per input with component ATOM (an index, or topN: the record's N-th most used) swept "
           "--from A --to B",
           traverse);
    t.number("from", "A", "start of the --traverse range", from, -HUGE_VAL, HUGE_VAL);
    t.number("to", "B", "end of the --traverse range", to, -HUGE_VAL, HUGE_VAL);
    t.flag("interpolate", "A B: emit --steps records from code A to code B (record indices from 0, or FILE[:INDEX])",
           interpolate_help);
    t.integer("steps", "N", "records per traversal or interpolation", opt.steps, 1, 100000);
    scvae::common::output(t, opt.output, "output file ('-' = stdout)");
    t.flag("json", "write JSON Lines instead of binary", opt.json);
    t.flag("half", "store values as 16-bit floats", opt.half);
    t.positional("[CODES...]", opt.inputs);
    t.parse(static_cast<int>(args.size()), args.data());
    if (traverse) {
        opt.traverse = true;
        scvae::parse_atom("--traverse", *traverse, opt.traverse_atom, opt.traverse_top);
        if (!from || !to) throw scvae::UsageError("--traverse needs --from A and --to B");
        opt.from = *from;
        opt.to = *to;
    } else if (from || to) {
        throw scvae::UsageError("--from and --to go with --traverse");
    }
    if (t.given("steps") && !opt.traverse && !opt.interpolate)
        throw scvae::UsageError("--steps goes with --traverse or --interpolate");
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-edit", argc, argv, [](int c, char** v) { return scvae::edit_main(parse(c, v)); });
}
