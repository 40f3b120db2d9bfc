#!/usr/bin/env bash
# rd-study.sh STUDY_DIR SETTING... - gather the rate-distortion study of `make -C models study`.
#
# Reads STUDY_DIR/SETTING/eval.json (scripts/eval-model.sh at 256x256 on the validation photos, merged into one
# object) and STUDY_DIR/SETTING/options.json + log.jsonl (the training run) for every setting, and writes
#   STUDY_DIR/rd.json   one JSON document: per setting alpha, starting thresholds, steps, training hours,
#                       validation PSNR/SSIM/MS-SSIM, non-zeros per vector, effective non-zeros, Hoyer, atoms
#                       used, bits per pixel, and the training/validation loss at the end (over-fitting check)
#   STUDY_DIR/rd.tsv    the same as a table
#   STUDY_DIR/rd.png    validation PSNR against non-zeros per vector, atoms used and bits per pixel (gnuplot)
# Effective non-zeros: (||z||_1/||z||_2)^2 of the mean Hoyer sparsity H, i.e. (sqrt(K) - H (sqrt(K) - 1))^2.
set -euo pipefail
dir=${1:?usage: rd-study.sh STUDY_DIR SETTING...}
shift
[[ $# -gt 0 ]] || { echo "rd-study.sh: no settings given" >&2; exit 2; }
command -v jq >/dev/null || { echo "rd-study.sh: needs jq (apt-get install jq)" >&2; exit 1; }

rows=()
for s in "$@"; do
  run=$dir/$s
  for f in eval.json options.json log.jsonl; do
    [[ -s $run/$f ]] || { echo "rd-study.sh: $run/$f: missing (run make -C models study)" >&2; exit 1; }
  done
  rows+=("$(jq -c --arg setting "$s" --slurpfile o "$run/options.json" --slurpfile log "$run/log.jsonl" '
    ($log | map(select(.type == "val")) | last) as $v
    | ($log | map(select(.type == "train")) | last) as $t
    | ($log | map(select(.type == "event" and .event == "done")) | last) as $done
    | 512 as $K
    | {setting: $setting, alpha: $o[0].alpha,
       init_alpha: (if $o[0].init_alpha >= 0 then $o[0].init_alpha else null end),
       steps: ($done.step // $v.step), hours: (($done.seconds // $v.seconds) / 3600),
       psnr: .psnr.mean, psnr_std: .psnr.std, ssim: .ssim.mean, ms_ssim: .ms_ssim.mean,
       nnz_per_vector, hoyer, effective_nnz: ((($K | sqrt) - .hoyer * (($K | sqrt) - 1)) | . * .),
       atoms_used, bpp,
       train_rec: $t.rec, val_rec: $v.rec, val_psnr_crop: $v.psnr}' "$run/eval.json")")
done
printf '%s\n' "${rows[@]}" | jq -s '{study: "rate-distortion: code density against reconstruction (256x256 validation)",
                                     settings: .}' > "$dir/rd.json.tmp"
mv "$dir/rd.json.tmp" "$dir/rd.json"
jq -r '["setting","alpha","init_alpha","steps","hours","psnr","ssim","ms_ssim","nnz_per_vector","effective_nnz",
        "hoyer","atoms_used","bpp","train_rec","val_rec"] as $k
       | ($k | @tsv), (.settings[] | [.[$k[]]] | map(if type == "number" then (. * 1000 | round / 1000) else . end)
       | @tsv)' "$dir/rd.json" > "$dir/rd.tsv.tmp"
mv "$dir/rd.tsv.tmp" "$dir/rd.tsv"
column -t -s $'\t' "$dir/rd.tsv"

command -v gnuplot >/dev/null || { echo "rd-study.sh: the picture needs gnuplot (apt-get install gnuplot-nox)" >&2; exit 1; }
# data rows sorted by non-zeros: x columns nnz (9), effective nnz (10), atoms (12), bpp (13); PSNR (6)
tail -n +2 "$dir/rd.tsv" | sort -t $'\t' -k9,9g > "$dir/rd.dat"
gnuplot <<EOF
set terminal pngcairo size 1500,460 font ",11"
set output "$dir/rd.png.tmp"
set datafile separator "\t"
set multiplot layout 1,3 title "SC-VAE rate-distortion (cpu-f8, validation photos at 256x256, equal training steps)"
set grid
set offsets graph 0.08, graph 0.08, graph 0.12, graph 0.08
set ylabel "validation PSNR (dB)"
set key off
set logscale x 2
set xlabel "non-zeros per code vector (K = 512; log scale)"
plot "$dir/rd.dat" using 9:6 with linespoints pt 7 ps 1.3 lw 2, \
     "" using 9:6:1 with labels offset 0,1 font ",9"
unset logscale x
set xlabel "atoms used on the validation photos (of 512)"
set xrange [0:520]
plot "$dir/rd.dat" using 12:6 with linespoints pt 7 ps 1.3 lw 2, \
     "" using 12:6:1 with labels offset 0,1 font ",9"
set autoscale x
set xlabel "code stream size (bits per pixel)"
plot "$dir/rd.dat" using 13:6 with linespoints pt 7 ps 1.3 lw 2, \
     "" using 13:6:1 with labels offset 0,1 font ",9"
unset multiplot
EOF
mv "$dir/rd.png.tmp" "$dir/rd.png"
rm -f "$dir/rd.dat"
echo "rd-study.sh: wrote $dir/rd.json, $dir/rd.tsv and $dir/rd.png" >&2
