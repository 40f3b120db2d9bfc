#!/bin/bash
# build-corpus.sh - builds the training corpus of the default model from photographs shipped in Debian packages.
#
# Usage: scripts/build-corpus.sh [OUTDIR]        (default OUTDIR: corpus/ in the repository root)
#
# Downloads (apt-get download; nothing is installed) and unpacks (dpkg-deb -x) these packages:
#   gcompris-qt-data (photos inside its Qt .rcc resource bundles, extracted by scripts/rcc-extract.py),
#   scratch (Media/Backgrounds), tuxpaint-data (templates), mate-backgrounds, lomiri-wallpapers-16.04,
#   lomiri-wallpapers-20.04.
# Keeps photographs and skips drawings with this rule (measured by scripts/corpus-tool.cpp):
#   1. lossy photo format: JPEG or WebP (the PNGs in these packages are icons, drawings and graphics);
#   2. not documentation (/usr/share/doc: screenshots), not gcompris' "details"/"paintings" activities and not
#      mate-backgrounds/abstract (artworks and rendered patterns, not photographs);
#   3. short side >= 256 px;
#   4. flat < 0.40: under 40 % of pixels equal their right and lower neighbours within 1/255 (measured at a
#      short side of 256 px) - drawings and cartoons have large flat fills, photographs have texture and noise;
#   5. colours >= 1000 distinct 15-bit colours (drops black frames, plain textures);
#   6. duplicates dropped: identical bytes, or the same name up to a resolution suffix (_3840x2160).
# Sample photos: four validation photographs, centre-cropped and resized to 256x256, go to examples/photos/
# (rows with split "example" in the manifest; set SCVAE_EXAMPLES_DIR= to skip them).
# Split: a file goes to val/ when the first 8 hex digits of md5(corpus name) are 0 mod 10 (about 10 %),
# else to train/. WebP files are converted to PNG (lossless); JPEG files are copied unchanged.
# Writes OUTDIR/train/, OUTDIR/val/ and OUTDIR/manifest.tsv (name, split, package, version, licence, source,
# width, height, flat, colours); the repository keeps a copy as models/corpus-manifest.tsv.
# Licence: the paragraph of the package's DEP-5 /usr/share/doc/<pkg>/copyright whose Files pattern matches
# the file (last match wins), else "Files: *".
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:-$root/corpus}
work=$out/.work
packages=(gcompris-qt-data scratch tuxpaint-data mate-backgrounds lomiri-wallpapers-16.04 lomiri-wallpapers-20.04)

mkdir -p "$work/debs" "$work/x" "$work/rcc"
rm -rf "$out/train" "$out/val"
mkdir -p "$out/train" "$out/val"

bash "$here/corpus-tool.sh" "$work/corpus-tool"

(cd "$work/debs" && for p in "${packages[@]}"; do ls "${p}"_*.deb >/dev/null 2>&1 || apt-get download "$p"; done)
: > "$work/versions.tsv"
for p in "${packages[@]}"; do
    deb=$(ls "$work/debs/${p}"_*.deb | head -1)
    rm -rf "${work:?}/x/$p"
    mkdir -p "$work/x/$p"
    dpkg-deb -x "$deb" "$work/x/$p"
    printf '%s\t%s\n' "$p" "$(dpkg-deb -f "$deb" Version)" >> "$work/versions.tsv"
done

# Candidates: package<TAB>source<TAB>file on disk
: > "$work/candidates.tsv"
rm -rf "$work/rcc"
for f in "$work"/x/gcompris-qt-data/usr/share/gcompris-qt/rcc/*.rcc; do
    b=$(basename "$f" .rcc)
    python3 "$here/rcc-extract.py" "$work/rcc/$b" "$f" | while read -r e; do
        printf 'gcompris-qt-data\t%s\t%s\n' "usr/share/gcompris-qt/rcc/$b.rcc:${e#"$work/rcc/$b/"}" "$e"
    done
done >> "$work/candidates.tsv"
for p in scratch tuxpaint-data mate-backgrounds lomiri-wallpapers-16.04 lomiri-wallpapers-20.04; do
    case $p in
        scratch) dir=usr/share/scratch/Media/Backgrounds ;;
        tuxpaint-data) dir=usr/share/tuxpaint/templates ;;
        *) dir=usr/share/backgrounds ;;
    esac
    [ -d "$work/x/$p/$dir" ] || continue
    find "$work/x/$p/$dir" -type f | sort | while read -r e; do
        printf '%s\t%s\t%s\n' "$p" "${e#"$work/x/$p/"}" "$e"
    done
done >> "$work/candidates.tsv"
grep -iE '\.(jpe?g|webp)$' "$work/candidates.tsv" > "$work/photos-format.tsv" || true
cut -f3 "$work/photos-format.tsv" | tr '\n' '\0' | xargs -0 -n 64 "$work/corpus-tool" stats > "$work/stats.tsv"

SCVAE_EXAMPLES_DIR=${SCVAE_EXAMPLES_DIR-$root/examples/photos} python3 - "$work" "$out" <<'PY'
import fnmatch, hashlib, os, re, shutil, subprocess, sys
work, out = sys.argv[1], sys.argv[2]
versions = dict(l.rstrip("\n").split("\t") for l in open(f"{work}/versions.tsv"))
stats = {}
for l in open(f"{work}/stats.tsv"):
    path, fmt, w, h, flat, colours = l.rstrip("\n").split("\t")
    stats[path] = (fmt, int(w), int(h), float(flat), int(colours))

def dep5(pkg):
    paras, cur = [], {}
    for line in open(f"{work}/x/{pkg}/usr/share/doc/{pkg}/copyright", encoding="utf-8", errors="replace"):
        if not line.strip():
            if cur: paras.append(cur); cur = {}
            continue
        m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
        if m:
            key = m.group(1).lower(); cur[key] = m.group(2).strip()
        elif line[0] in " \t" and cur:
            cur[key] += " " + line.strip()  # continuation line (multi-line Files:)
    if cur: paras.append(cur)
    return [(p["files"].split(), p["license"]) for p in paras if "files" in p and "license" in p]
rules = {p: dep5(p) for p in versions}

def licence(pkg, source):
    inner = source.split(":", 1)[-1]
    parts = inner.split("/")
    found = None
    for globs, lic in rules[pkg]:
        for g in globs:
            # the patterns name source-tree paths; installed paths differ in their folders, so a pattern
            # matches a path suffix, or (for a pattern without wildcards) the file's base name
            # (gcompris lists its photos as .jpg/.png but ships them as .webp: for a pattern without wildcards
            # the extension is ignored)
            if g == "*" or any(fnmatch.fnmatchcase("/".join(parts[i:]), g) for i in range(len(parts))) \
                    or ("*" not in g and os.path.splitext(os.path.basename(g))[0] == os.path.splitext(parts[-1])[0]
                        and (g.count("/") == 0 or os.path.splitext(inner)[0].endswith(os.path.splitext(g)[0])
                             or pkg.startswith("lomiri"))):
                found = lic
    return found or "unknown"

excluded = re.compile(r"(/usr/share/doc/|/activities/details/|/activities/paintings/|/mate/abstract/)")
seen_bytes, seen_names, rows = set(), set(), []
for line in open(f"{work}/photos-format.tsv"):
    pkg, source, path = line.rstrip("\n").split("\t")
    fmt, w, h, flat, colours = stats.get(path, ("bad", 0, 0, 1.0, 0))
    if fmt not in ("jpeg", "webp") or excluded.search("/" + source.split(":", 1)[-1]):
        continue
    if min(w, h) < 256 or flat >= 0.40 or colours < 1000:
        continue
    digest = hashlib.md5(open(path, "rb").read()).hexdigest()
    stem = re.sub(r"_\d+x\d+$", "", os.path.splitext(os.path.basename(path))[0]).lower()
    if digest in seen_bytes or (pkg, stem) in seen_names:
        continue
    seen_bytes.add(digest); seen_names.add((pkg, stem))
    inner = source.split(":", 1)[-1]
    name = pkg + "__" + re.sub(r"[^A-Za-z0-9._-]+", "_", "_".join(inner.split("/")[-2:]))
    name = os.path.splitext(name)[0] + (".jpg" if fmt == "jpeg" else ".png")
    split = "val" if int(hashlib.md5(name.encode()).hexdigest()[:8], 16) % 10 == 0 else "train"
    dest = f"{out}/{split}/{name}"
    if fmt == "jpeg":
        shutil.copyfile(path, dest)
    else:
        subprocess.run([f"{work}/corpus-tool", "convert", path, dest], check=True)
    rows.append((name, split, pkg, versions[pkg], licence(pkg, source), source, w, h, f"{flat:.3f}", colours))
rows.sort()
with open(f"{out}/manifest.tsv", "w") as f:
    f.write("# name\tsplit\tpackage\tversion\tlicence\tsource\twidth\theight\tflat\tcolours\n")
    for r in rows:
        f.write("\t".join(map(str, r)) + "\n")
# The bundled sample photos: validation photographs, centre-cropped and resized to 256x256 (JPEG q90).
examples = {"gcompris-qt-data__animals_scarlet_macaw.png": "macaw.jpg",
            "gcompris-qt-data__germany_schwerinPalace.png": "palace.jpg",
            "scratch__Nature_grand-canyon.jpg": "canyon.jpg",
            "lomiri-wallpapers-16.04__backgrounds_life_by_Aitzol_Berasategi.jpg": "dandelion.jpg"}
exdir = os.environ.get("SCVAE_EXAMPLES_DIR")
if exdir:
    os.makedirs(exdir, exist_ok=True)
    byname = {r[0]: r for r in rows}
    with open(f"{out}/manifest.tsv", "a") as f:
        for src, dst in examples.items():
            r = byname.get(src)
            if r is None or r[1] != "val":
                sys.exit(f"build-corpus.sh: sample photo {src} is not in the validation split")
            subprocess.run([f"{work}/corpus-tool", "sample", f"{out}/val/{src}", f"{exdir}/{dst}", "256", "90"], check=True)
            f.write("\t".join(map(str, ("examples/photos/" + dst, "example") + r[2:6] + (256, 256, r[8], r[9]))) + "\n")
n_val = sum(r[1] == "val" for r in rows)
print(f"build-corpus.sh: {len(rows)} photographs: {len(rows) - n_val} train, {n_val} val -> {out}", file=sys.stderr)
PY
