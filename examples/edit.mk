# examples/edit.mk - section "scvae-edit": manipulating and interpolating sparse codes (paper section 5.2).
#
#   traversal      $(OUT)/traversal.png      Figure 5: one row per photo, component TRAVERSE_ATOM (an index, or
#                                            topN: each photo's N-th most used atom; default top1) swept from
#                                            TRAVERSE_FROM to TRAVERSE_TO in TRAVERSE_STEPS steps (every grid
#                                            position, or TRAVERSE_AT=ROW,COL), each tile labelled, a header
#                                            naming the atom and the range
#   interpolation  $(OUT)/interpolation.png  Figure 6: INTERP_STEPS codes from INTERP_A to INTERP_B, linearly in
#                                            code space (both photos must have the same size)

TRAVERSE_ATOM ?= top1
TRAVERSE_FROM ?= -2
TRAVERSE_TO ?= 2
TRAVERSE_STEPS ?= 7
TRAVERSE_AT ?=
INTERP_A ?= $(PHOTOS)/canyon.jpg
INTERP_B ?= $(PHOTOS)/macaw.jpg
INTERP_STEPS ?= 8

$(OUT)/traversal.png: $(OUT)/photos.scv
	$(SCVAE_EDIT) --traverse $(TRAVERSE_ATOM) --from $(TRAVERSE_FROM) --to $(TRAVERSE_TO) \
	    --steps $(TRAVERSE_STEPS) $(if $(TRAVERSE_AT),--at $(TRAVERSE_AT)) $< \
	  | $(SCVAE_DECODE) $(MODEL_OPT) --montage $(TRAVERSE_STEPS) --labels \
	      --title 'traversal of atom $(TRAVERSE_ATOM)$(if $(TRAVERSE_AT), at $(TRAVERSE_AT)) from $(TRAVERSE_FROM) to $(TRAVERSE_TO) in $(TRAVERSE_STEPS) steps' -o $@

$(OUT)/interpolation-ends.scv: $(INTERP_A) $(INTERP_B) | $(OUT)
	$(SCVAE_ENCODE) $(MODEL_OPT) -o $@ $(INTERP_A) $(INTERP_B)

$(OUT)/interpolation.png: $(OUT)/interpolation-ends.scv
	$(SCVAE_EDIT) --interpolate 0 1 --steps $(INTERP_STEPS) $< \
	  | $(SCVAE_DECODE) $(MODEL_OPT) --montage $(INTERP_STEPS) --labels \
	      --title 'interpolation in code space: $(notdir $(INTERP_A)) to $(notdir $(INTERP_B))' -o $@

traversal: $(OUT)/traversal.png
interpolation: $(OUT)/interpolation.png
.PHONY: traversal interpolation

EXAMPLES += $(OUT)/traversal.png $(OUT)/interpolation.png
HELP += '  traversal      $(OUT)/traversal.png: Figure 5-style sheet (TRAVERSE_ATOM, _FROM, _TO, _STEPS, _AT)' \
        '  interpolation  $(OUT)/interpolation.png: Figure 6-style sheet (INTERP_A, INTERP_B, INTERP_STEPS)'
