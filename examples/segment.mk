# examples/segment.mk - section "scvae-segment" and "scvae-cluster": unsupervised segmentation (paper section
# 5.4, Table 2, Figure 10) and patch clustering (section 5.3, Figure 7).
#
#   segment-set    $(SEGSET)/                 the test set: SEG_N 256x256 photos of real cut-outs (Debian
#                                             tuxpaint-stamps-default) composited over the corpus' validation
#                                             photos, with exact masks (scripts/make-segmentation-set.sh)
#   segment-eval   $(OUT)/segment-table.txt   Table 2 style: mean IoU and Dice of spectral k=2, spectral k=3 and
#                                             kmeans k=5 (+ boundary connectivity) masks vs the exact masks,
#                                             both resized to 128x128 (scvae-metrics --masks), each next to the
#                                             same method on raw 8x8 pixel patches (scvae-segment --pixels 8:
#                                             the pixel-colour baseline, no model)
#   segment-noise  $(OUT)/segment-noise.png   Figure 10 style: mean IoU and Dice of spectral k=SEG_K against the
#                  $(OUT)/segment-noise.tsv   sigma of added Gaussian noise (SEG_SIGMAS, [0,1] scale)
#   patch-mosaic   $(OUT)/patch-mosaic.png    Figure 7 style: patches of the test set's images clustered into
#                                             MOSAIC_K groups, MOSAIC_ROWS random groups x MOSAIC_PER_ROW patches
#
# SEG_FLAGS go to every scvae-segment run (e.g. SEG_FLAGS='--bandwidth 1' for scvae 0.1's spectral kernel).
# These need a model that reads images (-m): MODEL, else $SCVAE_MODEL, else ../models/default.scvm.
# Not part of `all`: the test set downloads a Debian package (~160 MB) and the sweep encodes
# SEG_N x (number of sigmas) images.

SEG_N ?= 60
SEG_SEED ?= 1
SEG_K ?= 2
SEG_SIGMAS ?= 0 0.05 0.1 0.15 0.2 0.3 0.4
SEG_FLAGS ?=
SEGSET ?= $(OUT)/segset
MOSAIC_K ?= 200
MOSAIC_ROWS ?= 15
MOSAIC_PER_ROW ?= 40
SEG_MODEL = $(or $(MODEL),$(SCVAE_MODEL),$(EXAMPLES_DIR)/../models/default.scvm)
SCVAE_SEGMENT = $(call tool,segment)
SCVAE_CLUSTER = $(call tool,cluster)
# The compositing/plotting helper is built with the project (bench/segment_set.cpp).
SEGMENT_SET ?= $(firstword $(if $(SCVAE_BIN),$(wildcard $(SCVAE_BIN)/../bench/segment_set)) \
                           $(wildcard $(EXAMPLES_DIR)/../build/bench/segment_set $(EXAMPLES_DIR)/../build*/bench/segment_set))
SEG_DIR = $(OUT)/segment

$(SEGSET)/manifest.tsv:
	SEGMENT_SET=$(SEGMENT_SET) $(EXAMPLES_DIR)/../scripts/make-segmentation-set.sh $(SEGSET) $(SEG_N) $(SEG_SEED)

# Clean images encoded once; the three methods segment the same codes.
$(SEG_DIR)/clean.scv: $(SEGSET)/manifest.tsv
	mkdir -p $(SEG_DIR)
	$(SCVAE_ENCODE) -m $(SEG_MODEL) -o $@ $(SEGSET)/images/*.png

$(SEG_DIR)/spectral2.json: $(SEG_DIR)/clean.scv
	rm -rf $(SEG_DIR)/spectral2 && mkdir -p $(SEG_DIR)/spectral2
	$(SCVAE_SEGMENT) $(SEG_FLAGS) --method spectral -k 2 --mask '$(SEG_DIR)/spectral2/{stem}.png' $< > $(SEG_DIR)/spectral2.jsonl
	$(SCVAE_METRICS) --masks -o $@ $(SEG_DIR)/spectral2 $(SEGSET)/masks

$(SEG_DIR)/spectral3.json: $(SEG_DIR)/clean.scv
	rm -rf $(SEG_DIR)/spectral3 && mkdir -p $(SEG_DIR)/spectral3
	$(SCVAE_SEGMENT) $(SEG_FLAGS) --method spectral -k 3 --mask '$(SEG_DIR)/spectral3/{stem}.png' $< > $(SEG_DIR)/spectral3.jsonl
	$(SCVAE_METRICS) --masks -o $@ $(SEG_DIR)/spectral3 $(SEGSET)/masks

$(SEG_DIR)/kmeans5.json: $(SEG_DIR)/clean.scv
	rm -rf $(SEG_DIR)/kmeans5 && mkdir -p $(SEG_DIR)/kmeans5
	$(SCVAE_SEGMENT) $(SEG_FLAGS) --method kmeans -k 5 --mask '$(SEG_DIR)/kmeans5/{stem}.png' $< > $(SEG_DIR)/kmeans5.jsonl
	$(SCVAE_METRICS) --masks -o $@ $(SEG_DIR)/kmeans5 $(SEGSET)/masks

# The pixel-colour baseline: the same methods on the raw colours of each grid cell's 8x8 patch.
SEG_PIXEL_CELL ?= 8
$(SEG_DIR)/pixels-%.json: $(SEGSET)/manifest.tsv
	rm -rf $(SEG_DIR)/pixels-$* && mkdir -p $(SEG_DIR)/pixels-$*
	$(SCVAE_SEGMENT) $(SEG_FLAGS) --pixels $(SEG_PIXEL_CELL) --method $(if $(filter kmeans%,$*),kmeans,spectral) \
	    -k $(patsubst spectral%,%,$(patsubst kmeans%,%,$*)) \
	    --mask '$(SEG_DIR)/pixels-$*/{stem}.png' $(SEGSET)/images/*.png > $(SEG_DIR)/pixels-$*.jsonl
	$(SCVAE_METRICS) --masks -o $@ $(SEG_DIR)/pixels-$* $(SEGSET)/masks

SEG_METHODS = spectral2 spectral3 kmeans5
# one table row: method, codes IoU and Dice, pixels IoU and Dice (percent), images
SEG_ROW = def pct: . * 1000 | round / 10; [$$m, ($$c[0].aggregate.iou.mean | pct), ($$c[0].aggregate.dice.mean | pct), ($$p[0].aggregate.iou.mean | pct), ($$p[0].aggregate.dice.mean | pct), $$c[0].aggregate.count] | @tsv
$(OUT)/segment-table.txt: $(foreach m,$(SEG_METHODS),$(SEG_DIR)/$(m).json $(SEG_DIR)/pixels-$(m).json)
	{ printf 'method\tcodes IoU\tcodes Dice\tpixels IoU\tpixels Dice\timages\n'; \
	  for m in $(SEG_METHODS); do \
	    jq -r -n --arg m $$m --slurpfile c $(SEG_DIR)/$$m.json --slurpfile p $(SEG_DIR)/pixels-$$m.json '$(SEG_ROW)'; \
	  done; } > $@
	@cat $@

# One folder of masks per noise level (the images are encoded with noise added, so no shared codes).
$(SEG_DIR)/noise-%.json: $(SEGSET)/manifest.tsv
	rm -rf $(SEG_DIR)/noise-$* && mkdir -p $(SEG_DIR)/noise-$*
	$(SCVAE_SEGMENT) $(SEG_FLAGS) -m $(SEG_MODEL) --method spectral -k $(SEG_K) --noise $* --seed $(SEG_SEED) \
	    --mask '$(SEG_DIR)/noise-$*/{stem}.png' $(SEGSET)/images/*.png > $(SEG_DIR)/noise-$*.jsonl
	$(SCVAE_METRICS) --masks -o $@ $(SEG_DIR)/noise-$* $(SEGSET)/masks

$(OUT)/segment-noise.tsv: $(foreach s,$(SEG_SIGMAS),$(SEG_DIR)/noise-$(s).json)
	{ printf 'sigma\tIoU\tDice\n'; \
	  for s in $(SEG_SIGMAS); do \
	    jq -r --arg s $$s '[$$s, .aggregate.iou.mean, .aggregate.dice.mean] | @tsv' $(SEG_DIR)/noise-$$s.json; \
	  done; } > $@
	@cat $@

$(OUT)/segment-noise.png: $(OUT)/segment-noise.tsv
	$(SEGMENT_SET) plot --tsv $< --out $@ --title 'Spectral k=$(SEG_K): mean IoU / Dice vs noise' \
	    --xlabel 'sigma of Gaussian noise (0..1 scale)'

$(OUT)/patch-mosaic.png: $(SEG_DIR)/clean.scv
	$(SCVAE_CLUSTER) -k $(MOSAIC_K) --mosaic $@ --rows $(MOSAIC_ROWS) --per-row $(MOSAIC_PER_ROW) $< \
	    > $(SEG_DIR)/patch-clusters.jsonl

segment-set: $(SEGSET)/manifest.tsv
segment-eval: $(OUT)/segment-table.txt
segment-noise: $(OUT)/segment-noise.png
patch-mosaic: $(OUT)/patch-mosaic.png
.PHONY: segment-set segment-eval segment-noise patch-mosaic

HELP += '  segment-set    $(SEGSET)/: composited foreground/background test set with exact masks (downloads a package)' \
        '  segment-eval   $(OUT)/segment-table.txt: mean IoU/Dice of spectral k=2, k=3 and kmeans k=5 masks (Table 2), codes vs pixels' \
        '  segment-noise  $(OUT)/segment-noise.png: mean IoU/Dice against noise sigma $(SEG_SIGMAS) (Figure 10)' \
        '  patch-mosaic   $(OUT)/patch-mosaic.png: patch clusters of the test set (Figure 7)'
