# Shared set-up for the Bats CLI tests. PATH holds the built tools; SCVAE_MODEL the tiny test model.
bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

DATA=${SCVAE_TEST_DATA:?run the CLI tests through ctest}
IMAGES=$DATA/images
TINY=$DATA/tiny.scvm

# assert_no_file PATH: the file does not exist (no partial output left behind), nor any temp sibling.
assert_no_file() {
    [[ ! -e $1 ]] || fail "expected no file at $1"
    local left
    left=$(compgen -G "$1.tmp.*" || true)
    [[ -z $left ]] || fail "temporary file left behind: $left"
}

# png_size FILE: prints "W H" of a PNG from its IHDR.
png_size() {
    od -An -tu1 -j16 -N8 "$1" | awk '{printf "%d %d\n", $1*16777216+$2*65536+$3*256+$4, $5*16777216+$6*65536+$7*256+$8}'
}

# png_info FILE: prints "W H BIT_DEPTH COLOUR_TYPE PLTE_ENTRIES" from the PNG's chunks (python3 stdlib).
png_info() {
    python3 - "$1" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, plte = 8, 0
while pos < len(d):
    n, t = struct.unpack(">I4s", d[pos:pos + 8])
    if t == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", d[pos + 8:pos + 18])
    if t == b"PLTE":
        plte = n // 3
    pos += 12 + n
print(w, h, depth, ctype, plte)
PY
}

# png_values FILE: the distinct sample values of an 8-bit, one-sample-per-pixel PNG (gray or palette indices),
# space-separated, ascending (python3 stdlib: zlib and the PNG filters).
png_values() {
    python3 - "$1" <<'PY'
import struct, sys, zlib
d = open(sys.argv[1], "rb").read()
pos, idat = 8, b""
while pos < len(d):
    n, t = struct.unpack(">I4s", d[pos:pos + 8])
    if t == b"IHDR":
        w, h, depth, ctype, _, _, inter = struct.unpack(">IIBBBBB", d[pos + 8:pos + 21])
    if t == b"IDAT":
        idat += d[pos + 8:pos + 8 + n]
    pos += 12 + n
assert depth == 8 and ctype in (0, 3) and inter == 0, "expected an 8-bit gray or palette PNG"
raw, prev, seen, i = zlib.decompress(idat), bytearray(w), set(), 0
for _ in range(h):
    f, row = raw[i], bytearray(raw[i + 1:i + 1 + w])
    i += 1 + w
    for x in range(w):
        a, b = row[x - 1] if x else 0, prev[x]
        c = prev[x - 1] if x else 0
        if f == 1: row[x] = (row[x] + a) & 255
        elif f == 2: row[x] = (row[x] + b) & 255
        elif f == 3: row[x] = (row[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[x] = (row[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    seen.update(row)
    prev = row
print(*sorted(seen))
PY
}
