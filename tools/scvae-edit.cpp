// scvae-edit - a filter on sparse-code streams: set/add/scale components, traversals, interpolations.
#include "scvae/cli.h"
#include "scvae/edit.h"
#include "scvae/error.h"

static scvae::EditOptions parse(int argc, char** argv) {
    scvae::EditOptions opt;
    // "--interpolate A B" takes two values, which cxxopts cannot express: take it out first.
    std::vector<std::string> rest = scvae::extract_interpolate(std::vector<std::string>(argv + 1, argv + argc), opt);
    rest.insert(rest.begin(), argv[0]);
    std::vector<char*> args;
    for (auto& s : rest) args.push_back(s.data());
    cxxopts::Options o("scvae-edit", "Edit, traverse or interpolate SC-VAE sparse codes (a filter: stdin to stdout).\n"
                                     "Usage: scvae-edit [options] [CODES...] > edited.scv");
    o.add_options()
        ("set", "set component ATOM to VALUE (ATOM=VALUE; repeatable, applied in order)", cxxopts::value<std::vector<std::string>>())
        ("add", "add DELTA to component ATOM (ATOM=DELTA; repeatable)", cxxopts::value<std::vector<std::string>>())
        ("scale", "multiply component ATOM by FACTOR (ATOM=FACTOR; repeatable)", cxxopts::value<std::vector<std::string>>())
        ("at", "only at grid position ROW,COL (repeatable; default: every position)", cxxopts::value<std::vector<std::string>>())
        ("traverse", "emit --steps records per input with component ATOM (an index, or topN: the record's N-th most used) swept --from A --to B", cxxopts::value<std::string>())
        ("from", "start of the --traverse range", cxxopts::value<std::string>())
        ("to", "end of the --traverse range", cxxopts::value<std::string>())
        ("interpolate", "A B: emit --steps records from code A to code B (record indices from 0, or FILE[:INDEX])")
        ("steps", "records per traversal or interpolation (default 8)", cxxopts::value<std::string>())
        ("o,output", "output file (default: stdout)", cxxopts::value<std::string>())
        ("json", "write JSON Lines instead of binary")
        ("half", "store values as 16-bit floats")
        ("h,help", "show this help")
        ("version", "show the version")
        ("inputs", "code streams", cxxopts::value<std::vector<std::string>>());
    o.parse_positional({"inputs"});
    o.positional_help("[CODES...]");
    // The order of --set/--add/--scale matters: take them from the argument list in order.
    auto r = scvae::parse_or_usage(o, static_cast<int>(args.size()), args.data());
    for (const auto& kv : r.arguments()) {
        if (kv.key() == "set") opt.edits.push_back(scvae::parse_atom_edit("--set", scvae::EditOp::Set, kv.value()));
        if (kv.key() == "add") opt.edits.push_back(scvae::parse_atom_edit("--add", scvae::EditOp::Add, kv.value()));
        if (kv.key() == "scale") opt.edits.push_back(scvae::parse_atom_edit("--scale", scvae::EditOp::Scale, kv.value()));
        if (kv.key() == "at") opt.at.push_back(scvae::parse_grid_pos(kv.value()));
    }
    if (r.count("inputs")) opt.inputs = r["inputs"].as<std::vector<std::string>>();
    opt.output = r.count("output") ? r["output"].as<std::string>() : "-";
    opt.json = r.count("json") > 0;
    opt.half = r.count("half") > 0;
    if (r.count("traverse")) {
        opt.traverse = true;
        scvae::parse_atom("--traverse", r["traverse"].as<std::string>(), opt.traverse_atom, opt.traverse_top);
        if (!r.count("from") || !r.count("to")) throw scvae::UsageError("--traverse needs --from A and --to B");
        opt.from = scvae::parse_double_option("--from", r["from"].as<std::string>());
        opt.to = scvae::parse_double_option("--to", r["to"].as<std::string>());
    } else if (r.count("from") || r.count("to")) {
        throw scvae::UsageError("--from and --to go with --traverse");
    }
    if (r.count("steps")) {
        if (!opt.traverse && !opt.interpolate) throw scvae::UsageError("--steps goes with --traverse or --interpolate");
        opt.steps = scvae::parse_int_option("--steps", r["steps"].as<std::string>(), 1, 100000);
    }
    return opt;
}

int main(int argc, char** argv) {
    return scvae::run_tool("scvae-edit", argc, argv, [](int c, char** v) { return scvae::edit_main(parse(c, v)); });
}
