# examples/metrics.mk - section "scvae-metrics": reconstruction quality and sparsity (Tables 1 and 3).
#
#   quality  $(OUT)/table1.txt     one Table 1-style line for the photos: PSNR, SSIM, MS-SSIM, Hoyer sparsity
#                                  (Table 3), non-zeros per code vector, atoms used, bits per pixel
#            $(OUT)/metrics.json   the same, per image, as JSON
#            (`make table1` trains the models of the real Table 1 comparison: tables.mk)
#   check    fails (exit 1) unless the mean PSNR and SSIM reach CHECK (default 'psnr>=20,ssim>=0.5')

CHECK ?= psnr>=20,ssim>=0.5

$(OUT)/table1.txt: $(OUT)/photos.scv
	$(SCVAE_METRICS) $(MODEL_OPT) --summary $(PHOTOS) --codes $< > $@
	@cat $@

$(OUT)/metrics.json: $(OUT)/photos.scv
	$(SCVAE_METRICS) $(MODEL_OPT) -o $@ $(PHOTOS) --codes $<

quality: $(OUT)/table1.txt $(OUT)/metrics.json
check: $(OUT)/photos.scv
	$(SCVAE_METRICS) $(MODEL_OPT) --summary --check '$(CHECK)' $(PHOTOS) --codes $<
.PHONY: quality check

EXAMPLES += $(OUT)/table1.txt $(OUT)/metrics.json
HELP += '  quality        $(OUT)/table1.txt, $(OUT)/metrics.json: Table 1-style line (PSNR, SSIM, MS-SSIM, sparsity, bpp)' \
        '  check          exit 1 unless CHECK holds ($(CHECK))'
