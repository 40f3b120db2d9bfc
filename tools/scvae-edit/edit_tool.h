// edit_tool.h - scvae-edit as a function of its options, and the parsers of its value syntax.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cli.h"
#include "scvae/edit.h"

namespace scvae {

// "17=0.5" -> {op, 17, 0.5}, "top1=0.5" -> {op, top 1, 0.5}; throws UsageError("--set: expected ATOM=VALUE ...").
AtomEdit parse_atom_edit(const std::string& option, EditOp op, const std::string& spec);

// An ATOM argument: an index ("17") or "topN" (N >= 1), the N-th most used atom of each record. Sets exactly
// one of atom and top; throws UsageError.
void parse_atom(const std::string& option, const std::string& text, uint32_t& atom, uint32_t& top);

// "2,3" -> {2, 3}; throws UsageError.
GridPos parse_grid_pos(const std::string& spec);

struct EditOptions {
    std::vector<std::string> inputs;  // code streams, "-" = stdin (default)
    std::string output = "-";
    bool json = false;
    bool half = false;
    std::vector<AtomEdit> edits;  // in command-line order
    std::vector<GridPos> at;      // empty: every grid position
    bool traverse = false;
    uint32_t traverse_atom = 0;
    uint32_t traverse_top = 0;  // > 0: --traverse topN
    double from = 0, to = 0;
    bool interpolate = false;
    std::string interp_a, interp_b;  // record index (0-based) of the input, or PATH / PATH:INDEX of a code stream
    int steps = 8;
};

// Pulls "--interpolate A B" (two values) out of argv before cxxopts sees it. Returns the remaining arguments.
std::vector<std::string> extract_interpolate(const std::vector<std::string>& args, EditOptions& opt);

int edit_main(const EditOptions& opt);

}  // namespace scvae
