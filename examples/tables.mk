# examples/tables.mk - section "paper tables": the paper's claims tested side by side on this machine.
#
#   table1   $(T1)/table1.md, table1.json, table1.png
#            Table 1 at this machine's scale: SC-VAE against VQ-VAE (codebook loss) and VQ-VAE (EMA codebook)
#            in the same network (cpu-f8), trained on the same data, crops, steps and seed, then PSNR, SSIM,
#            MS-SSIM, atoms/codebook entries used, perplexity and bits per pixel on the validation photos at
#            256x256; the picture is the first TABLE_PICS validation photos over each model's reconstructions.
#   table3   $(T3)/table3.md, table3.json, table3.png
#            Table 3: the same SC-VAE recipe with s in TABLE3_STEPS LISTA steps; PSNR and Hoyer sparsity per s,
#            plus, on the largest-s model, ISTA and FISTA run to convergence at inference (TABLE3_ITERS).
#   table2   $(T2)/table2.md   segmentation of the composite set (segment-eval) with the SC and VQ codes of
#            table1 next to the pixel-colour baseline, as in the paper's Table 2.
#
# They train models: they need the corpus (make -C models corpus: ../corpus/train and ../corpus/val) and
# take time. At SCALE=1 each run is TABLE_BASE_STEPS steps (about 35 min per model on 2 cores, so table1 is
# about 2 hours and table3 about 3); SCALE=0.25 is a quick look, SCALE=4 a longer study. Runs resume where
# they stopped (make again). Not part of `all`.

SCALE ?= 1
TABLE_BASE_STEPS ?= 4000
TABLE_STEPS = $(shell awk 'BEGIN { s = int($(TABLE_BASE_STEPS) * $(SCALE) + 0.5); print (s < 1 ? 1 : s) }')
TABLE_CORPUS ?= $(abspath $(EXAMPLES_DIR)/../corpus)
TABLE_PICS ?= 4
TABLE_SEED ?= 21
T1 ?= $(OUT)/table1
T2 ?= $(OUT)/table2
T3 ?= $(OUT)/table3
TABLE1_RUNS ?= sc vq vq-ema
TABLE_PRESET ?= cpu-f8
TABLE_SIZE ?= 96
TABLE3_STEPS ?= 1 2 4 8 16
TABLE3_ITERS ?= 500
SCVAE_TRAIN = $(call tool,train)
# scripts/eval-model.sh runs the tools of SCVAE_BIN (absolute), else the repository's build
TABLE_BIN = $(abspath $(or $(SCVAE_BIN),$(dir $(shell command -v scvae-encode 2>/dev/null)),$(EXAMPLES_DIR)/../build/bin))
EVAL_MODEL = SCVAE_BIN=$(TABLE_BIN) $(abspath $(EXAMPLES_DIR)/../scripts/eval-model.sh)

# Identical for every run: network, data, crops, batch, optimiser, steps, seed. Only the latent differs.
# 96-px crops, batch 4 over two local processes (both cores), lr 3e-4 with gradient clipping.
TABLE_COMMON = --preset $(TABLE_PRESET) --resize-short 256 --val $(TABLE_CORPUS)/val --size $(TABLE_SIZE) -b 4 --procs 2 --lr 3e-4 \
               --grad-clip 1.0 --steps $(TABLE_STEPS) --val-every 250 --checkpoint-every 100 --log-every 20 \
               --seed $(TABLE_SEED) -q
# SC: alpha 0.2 with the thresholds starting at alpha/L (the rate-distortion study's best setting).
table_flags = $(if $(filter sc,$(1)),--alpha 0.2,$(if $(filter vq-ema,$(1)),--latent vq --vq-ema 0.99,--latent vq))

# train_run DIR FLAGS: a new run, or the continuation of an interrupted one; DIR/done marks a finished run.
train_run = if [ -e $(1)/state.pt ]; then $(SCVAE_TRAIN) --resume $(1) --steps $(TABLE_STEPS) -q; \
            else $(SCVAE_TRAIN) -o $(1) $(TABLE_COMMON) $(2) $(TABLE_CORPUS)/train; fi && touch $(1)/done

$(TABLE_CORPUS)/train $(TABLE_CORPUS)/val:
	@echo "examples: $@ is missing: make -C models corpus builds it" >&2; exit 1

# eval_run DIR [ENCODE_FLAGS]: validation numbers of DIR/best.scvm at 256x256, one JSON object
eval_run = SCVAE_ENCODE_FLAGS='$(2)' $(EVAL_MODEL) $(abspath $(1))/best.scvm $(TABLE_CORPUS)/val $(abspath $(1))/eval \
           | jq -s 'add' > $(1)/eval.json.tmp && mv $(1)/eval.json.tmp $(1)/eval.json

$(T1)/%/done: | $(TABLE_CORPUS)/train $(TABLE_CORPUS)/val
	mkdir -p $(T1)
	$(call train_run,$(T1)/$*,$(call table_flags,$*))
$(T1)/%/eval.json: $(T1)/%/done
	$(call eval_run,$(T1)/$*)

# one row per run: its eval.json with the run's name, latent, steps and training hours from its log
TABLE_ROW = jq -c --arg run $$r --slurpfile log $$d/$$r/log.jsonl --slurpfile cfg $$d/$$r/config.json \
    '($$log | map(select(.type == "val")) | last) as $$v | {run: $$run, latent: ($$cfg[0].latent // "sc"), \
      lista_steps: (if ($$cfg[0].latent // "sc") == "sc" then $$cfg[0].steps else null end), \
      steps: $$v.step, hours: ($$v.seconds / 3600), psnr: .psnr.mean, ssim: .ssim.mean, ms_ssim: .ms_ssim.mean, \
      hoyer, nnz_per_vector, atoms_used, perplexity, bpp, val_psnr_crop: $$v.psnr} + (if .solver then {solver} else {} end)' \
    $$d/$$r/eval.json
TABLE_MD = jq -r '"| run | latent | PSNR | SSIM | MS-SSIM | Hoyer | non-zeros / vector | atoms or entries used | perplexity | bpp (stream) | steps | hours |", \
    "|---|---|---|---|---|---|---|---|---|---|---|---|", \
    (.runs[] | "| \(.run) | \(.latent) | \(.psnr*100|round/100) | \(.ssim*1000|round/1000) | \(.ms_ssim*1000|round/1000) | \(.hoyer*1000|round/1000) | \(.nnz_per_vector*10|round/10) | \(.atoms_used) | \(.perplexity*10|round/10) | \(.bpp*100|round/100) | \(.steps) | \(.hours*100|round/100) |")'

$(T1)/table1.json: $(foreach r,$(TABLE1_RUNS),$(T1)/$(r)/eval.json)
	d=$(T1); for r in $(TABLE1_RUNS); do $(TABLE_ROW); done \
	  | jq -s --arg scale '$(SCALE)' '{table: "Table 1 at this machine scale: SC-VAE vs VQ-VAE in the same network (cpu-f8), validation photos at 256x256", scale: ($$scale | tonumber), runs: .}' > $@.tmp
	mv $@.tmp $@
$(T1)/table1.md: $(T1)/table1.json
	$(TABLE_MD) $< > $@.tmp && mv $@.tmp $@
	@cat $@

# The picture: TABLE_PICS validation photos (256x256), then each run's reconstructions, one row each.
$(T1)/table1.png: $(T1)/table1.json
	rm -rf $(T1)/pic && mkdir -p $(T1)/pic
	i=0; for f in $$(ls $(T1)/$(firstword $(TABLE1_RUNS))/eval/val256/*.jpg | head -n $(TABLE_PICS)); do \
	  jpegtopnm -quiet "$$f" > $(T1)/pic/o$$i.ppm; i=$$((i+1)); done
	pnmcat -lr $(T1)/pic/o*.ppm > $(T1)/pic/00-originals.ppm
	for r in $(TABLE1_RUNS); do \
	  set -- $$(ls $(T1)/$$r/eval/val256/*.jpg | head -n $(TABLE_PICS)); \
	  $(SCVAE_ENCODE) -q -m $(T1)/$$r/best.scvm "$$@" \
	    | $(SCVAE_DECODE) -q -m $(T1)/$$r/best.scvm --montage $(TABLE_PICS) --gap 0 \
	        --title "$$r: $$(jq -r --arg r $$r '.runs[] | select(.run == $$r) | "\(.psnr*100|round/100) dB, \(.atoms_used) used"' $<)" \
	        -o $(T1)/pic/$$r.ppm; \
	done
	pnmcat -tb -white $(T1)/pic/00-originals.ppm $(foreach r,$(TABLE1_RUNS),$(T1)/pic/$(r).ppm) | pnmtopng > $@.tmp
	mv $@.tmp $@

table1: $(T1)/table1.md $(T1)/table1.png

# ---- Table 3: LISTA steps ----
$(T3)/s%/done: | $(TABLE_CORPUS)/train $(TABLE_CORPUS)/val
	mkdir -p $(T3)
	$(call train_run,$(T3)/s$*,--alpha 0.2 --lista-steps $*)
$(T3)/s%/eval.json: $(T3)/s%/done
	$(call eval_run,$(T3)/s$*)
T3_LAST = s$(lastword $(TABLE3_STEPS))
$(T3)/%-inference/eval.json: $(T3)/$(T3_LAST)/done
	mkdir -p $(T3)/$*-inference
	ln -sfn ../$(T3_LAST)/best.scvm $(T3)/$*-inference/best.scvm
	ln -sfn ../$(T3_LAST)/log.jsonl $(T3)/$*-inference/log.jsonl
	ln -sfn ../$(T3_LAST)/config.json $(T3)/$*-inference/config.json
	$(call eval_run,$(T3)/$*-inference,--solver $* --solver-steps $(TABLE3_ITERS))
	jq --arg s '$* x $(TABLE3_ITERS) at inference' '. + {solver: $$s}' $(T3)/$*-inference/eval.json > $(T3)/$*-inference/e.tmp
	mv $(T3)/$*-inference/e.tmp $(T3)/$*-inference/eval.json

T3_RUNS = $(foreach s,$(TABLE3_STEPS),s$(s)) ista-inference fista-inference
$(T3)/table3.json: $(foreach r,$(T3_RUNS),$(T3)/$(r)/eval.json)
	d=$(T3); for r in $(T3_RUNS); do $(TABLE_ROW); done \
	  | jq -s --arg scale '$(SCALE)' '{table: "Table 3 at this machine scale: LISTA steps s (cpu-f8, validation photos at 256x256)", scale: ($$scale | tonumber), runs: .}' > $@.tmp
	mv $@.tmp $@
TABLE3_MD = jq -r '"| run | s | PSNR | SSIM | Hoyer | non-zeros / vector | atoms used | hours |", "|---|---|---|---|---|---|---|---|", \
    (.runs[] | "| \(.run)\(if .solver then " (" + .solver + ")" else "" end) | \(.lista_steps) | \(.psnr*100|round/100) | \(.ssim*1000|round/1000) | \(.hoyer*1000|round/1000) | \(.nnz_per_vector*10|round/10) | \(.atoms_used) | \(.hours*100|round/100) |")'
$(T3)/table3.md: $(T3)/table3.json
	$(TABLE3_MD) $< > $@.tmp && mv $@.tmp $@
	@cat $@
# PSNR and Hoyer sparsity against s (the trained runs), on one chart (segment_set plot draws values in 0..1:
# PSNR is shown as PSNR/40)
$(T3)/table3.png: $(T3)/table3.json
	{ printf 's\tPSNR / 40 dB\tHoyer sparsity\n'; jq -r '.runs[] | select(.solver == null) | [.lista_steps, .psnr / 40, .hoyer] | @tsv' $<; } > $(T3)/table3.tsv
	$(SEGMENT_SET) plot --tsv $(T3)/table3.tsv --out $@ --title "LISTA steps s: PSNR and sparsity" --xlabel "LISTA steps s"

table3: $(T3)/table3.md $(T3)/table3.png

# ---- Table 2 reading: segmentation with SC codes, VQ codes and pixel colours ----
$(T2)/%/segment-table.txt: $(T1)/%/done
	$(MAKE) -C $(EXAMPLES_DIR) --no-print-directory segment-eval OUT=$(abspath $(T2)/$*) \
	    SEGSET=$(abspath $(SEGSET)) MODEL=$(abspath $(T1)/$*/best.scvm) SCVAE_BIN=$(TABLE_BIN)
$(T2)/table2.md: $(foreach r,$(TABLE1_RUNS),$(T2)/$(r)/segment-table.txt)
	{ echo '| method | $(foreach r,$(TABLE1_RUNS),$(r) IoU / Dice | )pixels IoU / Dice |'; \
	  echo '|---|$(foreach r,$(TABLE1_RUNS),---|)---|'; \
	  for m in $(SEG_METHODS); do \
	    row="| $$m |"; \
	    for r in $(TABLE1_RUNS); do row="$$row $$(awk -F'\t' -v m=$$m '$$1 == m { print $$2 " / " $$3 }' $(T2)/$$r/segment-table.txt) |"; done; \
	    row="$$row $$(awk -F'\t' -v m=$$m '$$1 == m { print $$4 " / " $$5 }' $(T2)/$(firstword $(TABLE1_RUNS))/segment-table.txt) |"; \
	    echo "$$row"; \
	  done; } > $@.tmp
	mv $@.tmp $@
	@cat $@

table2: $(T2)/table2.md

.PHONY: table1 table2 table3
# the runs and their evaluations are results, not intermediate files (.PRECIOUS names the rules' target patterns)
.PRECIOUS: $(T1)/%/done $(T1)/%/eval.json $(T3)/s%/done $(T3)/s%/eval.json $(T3)/%-inference/eval.json
HELP += '  table1         Table 1 here: SC-VAE vs VQ-VAE in the same network, trained (SCALE=1: ~2 h)' \
        '  table2         Table 2 reading: segmentation with the SC and VQ codes of table1 and pixel colours' \
        '  table3         Table 3 here: LISTA steps s in {1,2,4,8,16} and ISTA/FISTA at inference (SCALE=1: ~3 h)'
