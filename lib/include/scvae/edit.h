// scvae/edit.h - editing, traversing and interpolating sparse codes (section 5.2 of the paper).
//
// Every emitted record keeps the model identity (fingerprint, n, K, d), grid, image size and padding of its
// input, so `scvae-edit ... | scvae-decode` works. After an edit the CSR part is rebuilt from the dense
// codes: indices ascending, exact zeros dropped (a linear mix of two sparse codes is again a valid code).
// Emitted records say what they are in their source name: a tag is inserted before the extension,
// "photos/a.png" -> "photos/a~traverse17=0.5.png", so {stem} in scvae-decode's -o pattern stays unique.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scvae/codes.h"

namespace scvae {

enum class EditOp { Set, Add, Scale };

struct AtomEdit {
    EditOp op = EditOp::Set;
    uint32_t atom = 0;
    float value = 0;  // VALUE for --set, DELTA for --add, FACTOR for --scale
    uint32_t top = 0;  // > 0: the atom is "topN", the N-th most used atom of each record (see resolve_top_atoms)
};

struct GridPos {
    uint32_t row = 0, col = 0;
};

// The N-th (from 1) most used atom of a record: the most grid positions with a non-zero component, ties to the
// lower index. Throws Error("topN: the record uses only M atoms").
uint32_t most_used_atom(const CodeRecord& rec, uint32_t n);
// `edits` with every "topN" replaced by that record's atom.
std::vector<AtomEdit> resolve_top_atoms(const std::vector<AtomEdit>& edits, const CodeRecord& rec);

// Short text of edits for source names: "set17=0.5,add3=-1@2,3".
std::string edits_tag(const std::vector<AtomEdit>& edits, const std::vector<GridPos>& at);
// Inserts "~tag" before the extension of the last path component ("d/a.png" -> "d/a~tag.png").
std::string tagged_source(const std::string& source, const std::string& tag);
// Short number for tags, 4 significant digits ("0.5", "-1", "0.1429", "1e-05").
std::string format_value(double v);

// Applies `edits` in order at the positions `at` (every position when empty). Throws
// Error("atom A is out of range (the model has K=N atoms)") or Error("--at R,C is outside the HxW grid").
void apply_edits(CodeRecord& rec, const std::vector<AtomEdit>& edits, const std::vector<GridPos>& at);

// `steps` records with component `atom` set to from + (to-from)*i/(steps-1) (from alone when steps == 1)
// at the positions `at` (every position when empty); sources tagged "traverseATOM=V" ("traverseATOM@R,C=V").
std::vector<CodeRecord> traverse_record(const CodeRecord& rec, uint32_t atom, double from, double to, int steps,
                                        const std::vector<GridPos>& at);

// `steps` (>= 2) records (1-t) a + t b for t = i/(steps-1), endpoints included. a and b must come from the same
// model (fingerprint, n, K, d) and have the same grid; image size and padding are a's. Sources are a's, tagged
// "interp(B)=T" with B the stem of b's source. Throws Error naming the mismatch.
std::vector<CodeRecord> interpolate_records(const CodeRecord& a, const CodeRecord& b, int steps);

}  // namespace scvae
