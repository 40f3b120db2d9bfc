#!/usr/bin/env bats
# The Python route: python/scvae_codes.py (code streams and model files in pure Python + numpy, following
# scvae-codes(5) and scvae-model(5)) against the golden v1 files and the tools' own output; and
# scvae-model export (TorchScript), when Debian's python3-torch is installed.

setup() {
    load helpers
    cd "$BATS_TEST_TMPDIR"
    PY=/usr/bin/python3
    export PYTHONPATH=$SCVAE_SOURCE_DIR/python
    "$PY" -c 'import numpy' 2>/dev/null || fail "$PY cannot import numpy (scripts/setup.sh installs python3-numpy)"
}

@test "the Python reader reads the golden v1 files: the records of scvae-codes(5), byte for byte" {
    run -0 "$PY" - "$DATA/golden" <<'PY'
import sys, numpy as np, scvae_codes as sc
g = sys.argv[1]
b = list(sc.read_codes(g + "/v1.scv"))
j = list(sc.read_codes(g + "/v1.jsonl"))
assert len(b) == len(j) == 2, (len(b), len(j))
a = b[0]
# the example record of scvae-codes(5)
assert (a["fingerprint"], a["n"], a["K"], a["d"], a["source"]) == ("0123456789abcdef", 16, 8, 2, "golden/a.png"), a
assert (a["width"], a["height"], a["channels"], a["pad_right"], a["pad_bottom"], a["grid_h"], a["grid_w"]) == (13, 10, 3, 3, 2, 3, 4)
assert a["row_ptr"].tolist() == [0, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 6]
assert a["indices"].tolist() == [1, 5, 0, 2, 3, 7]
# the stored binary32 numbers, exactly (the format round-trips them)
assert a["values"].tolist() == np.array([0.5, -1.25, 3.1415927, 0.001, -2.5e-05, 100], np.float32).tolist()
assert a["crc32"] == 0xd765005f and not a["half"]
h = b[1]
assert h["half"] and h["source"] == "ünicöde ✓.jpg" and h["channels"] == 1
assert h["values"].tolist() == np.array([0.33325195, -65504, 6.1035156e-05, 5.9604645e-08], np.float16).astype(np.float32).tolist()
for x, y in zip(b, j):
    for k in x:
        if k in ("encoding", "flags", "source_bytes", "row_ptr", "indices", "values"):
            continue
        assert x[k] == y[k], (k, x[k], y[k])
    for k in ("row_ptr", "indices", "values"):
        assert x[k].dtype == y[k].dtype and np.array_equal(x[k], y[k]), k
# writing them again gives the golden bytes, in both encodings
assert b"".join(sc.record_bytes(r) for r in j) == open(g + "/v1.scv", "rb").read()
assert "".join(sc.record_json(r) + "\n" for r in b) == open(g + "/v1.jsonl", encoding="utf-8").read()
d = next(sc.read_codes(g + "/v1.scv", dense=True))["codes"]
assert d.shape == (3, 4, 8) and np.count_nonzero(d) == 6 and d[2, 3, 7] == np.float32(100) and d[0, 0, 1] == 0.5
print("ok")
PY
    assert_output "ok"
}

@test "the Python reader agrees with scvae-encode: binary and --json give the same records, dense on request" {
    scvae-encode -o a.scv "$IMAGES/photo1.jpg" "$IMAGES/gray.jpg" "$IMAGES/interlaced.png"
    scvae-edit --json a.scv > a.jsonl
    scvae-encode --half -o h.scv "$IMAGES/photo2.png"
    run -0 "$PY" - <<'PY'
import json, numpy as np, scvae_codes as sc
b = list(sc.read_codes("a.scv"))
j = list(sc.read_codes("a.jsonl"))
assert [r["source"].rsplit("/", 1)[-1] for r in b] == ["photo1.jpg", "gray.jpg", "interlaced.png"]
assert [r["encoding"] for r in b + j] == ["binary"] * 3 + ["json"] * 3
for x, y in zip(b, j):
    assert x["crc32"] == y["crc32"]
    assert np.array_equal(x["row_ptr"], y["row_ptr"]) and np.array_equal(x["indices"], y["indices"])
    assert np.array_equal(x["values"], y["values"])  # the JSON text round-trips the binary32 numbers
    assert sc.record_bytes(y) == sc.record_bytes(x)
# the tools' JSON, read by the json module alone, says the same
for x, line in zip(b, open("a.jsonl")):
    o = json.loads(line)
    assert (o["grid"]["h"], o["grid"]["w"], o["image"]["width"], o["nnz"]) == (x["grid_h"], x["grid_w"], x["width"], x["nnz"])
    assert sc.record_json(x) == line.rstrip("\n")
    dense = sc.to_dense(x)
    assert dense.shape == (x["grid_h"], x["grid_w"], x["K"]) and np.count_nonzero(dense) == x["nnz"]
    P, K = x["grid_h"] * x["grid_w"], x["K"]
    flat = np.zeros((P, K), np.float32)
    for p in range(P):
        for e in range(o["row_ptr"][p], o["row_ptr"][p + 1]):
            flat[p, o["indices"][e]] = o["values"][e]
    assert np.allclose(flat, dense.reshape(P, K), rtol=1e-6, atol=0)
# the binary stream concatenated with JSON Lines, and f16 values
mixed = open("a.scv", "rb").read() + b"\n" + open("a.jsonl", "rb").read() + open("h.scv", "rb").read()
recs = list(sc.read_codes(mixed))
assert len(recs) == 7 and recs[6]["half"] and recs[6]["values"].dtype == np.float32
assert np.array_equal(recs[6]["values"], recs[6]["values"].astype(np.float16).astype(np.float32))
print("ok")
PY
    assert_output "ok"
}

@test "the Python reader refuses damaged streams as the tools do, after the good records" {
    scvae-encode -o a.scv "$IMAGES/photo1.jpg" "$IMAGES/gray.jpg"
    run -0 "$PY" - <<'PY'
import scvae_codes as sc
data = open("a.scv", "rb").read()
first = len(sc.record_bytes(next(sc.read_codes(data))))
def fails(blob):
    got = []
    try:
        for r in sc.read_codes(blob):
            got.append(r)
    except sc.CodesError as e:
        return len(got), str(e)
    raise AssertionError("no error")
bad = bytearray(data); bad[len(data) - 10] ^= 0x40
assert fails(bytes(bad)) == (1, "<bytes>: record 2: checksum mismatch"), fails(bytes(bad))
n, msg = fails(data[:-3])
assert n == 1 and msg.startswith("<bytes>: record 2: truncated record"), msg
assert fails(b"GIF89a") == (0, "<bytes>: record 1: not a scvae code stream (bad magic)")
bad = bytearray(data); bad[4] = 2
assert fails(bytes(bad))[1] == "<bytes>: record 1: unsupported format version 2.0 (this scvae reads 1.x)"
print("ok")
PY
    assert_output "ok"
    # and the command line
    run -1 "$PY" "$SCVAE_SOURCE_DIR/python/scvae_codes.py" "$IMAGES/photo1.jpg"
    assert_output "scvae_codes.py: $IMAGES/photo1.jpg: record 1: not a scvae code stream (bad magic)"
    run -0 bash -c "'$PY' '$SCVAE_SOURCE_DIR/python/scvae_codes.py' a.scv | cmp - <(scvae-edit --json a.scv)"
}

@test "the Python model reader: header, weights and the fingerprint of scvae-model(5)" {
    run -0 "$PY" - "$TINY" "$(scvae-model info --json "$TINY" | jq -c '[.fingerprint, .config.K, .config.n]')" <<'PY'
import json, sys, scvae_codes as sc
m = sc.read_model(sys.argv[1])
fp, K, n = json.loads(sys.argv[2])
assert (m["fingerprint"], m["config"]["K"], m["config"]["n"]) == (fp, K, n)
assert m["tensors"]["lista.D"].shape == (n, K)
assert sc.model_fingerprint(m["config"], m["tensors"], [t["name"] for t in m["tensor_info"]]) == fp
data = bytearray(open(sys.argv[1], "rb").read()); data[-10] ^= 1
try:
    sc.read_model(bytes(data)); raise AssertionError("no error")
except sc.ModelError as e:
    assert str(e) == "<bytes>: model file checksum mismatch", e
print("ok")
PY
    assert_output "ok"
}

@test "scvae-model export: usage errors, a bad model, and a Python without PyTorch are refused clearly" {
    run -2 scvae-model export "$TINY"
    assert_output --partial "export: -o FILE is required"
    printf 'not a model' > bad.scvm
    run -1 --separate-stderr scvae-model export bad.scvm -o x.pt
    assert_equal "$stderr" "scvae-model: bad.scvm: not a scvae model file"
    assert_no_file x.pt
    # a Python that cannot import torch (a stand-in module that fails as a missing one does)
    mkdir notorch && echo 'raise ImportError("No module named torch")' > notorch/torch.py
    run -1 --separate-stderr env SCVAE_PYTHON=$PY PYTHONPATH=notorch scvae-model export "$TINY" -o x.pt
    [[ $stderr == "scvae-model: export needs PyTorch and numpy, but $PY cannot import them (No module named torch); set SCVAE_PYTHON"* ]] \
        || fail "$stderr"
    assert_no_file x.pt
    run -1 --separate-stderr env SCVAE_PYTHON=/nonexistent/python3 scvae-model export "$TINY" -o x.pt
    assert_equal "$stderr" "scvae-model: cannot run /nonexistent/python3: No such file or directory (export needs Python with PyTorch; set SCVAE_PYTHON)"
    run -1 --separate-stderr env SCVAE_PYTHON_DIR=/nonexistent scvae-model export "$TINY" -o x.pt
    assert_equal "$stderr" "scvae-model: cannot find scvae_torch.py (looked in /nonexistent); set SCVAE_PYTHON_DIR to its folder"
}

@test "scvae-model export: the TorchScript module encodes and decodes as scvae-encode and scvae-decode do" {
    if ! "$PY" -c 'import torch' 2>/dev/null; then
        skip "$PY cannot import torch (install Debian's python3-torch to run this test)"
    fi
    SCVAE_PYTHON=$PY scvae-model export "$TINY" -o tiny.pt
    [ -s tiny.pt ]
    pngtopnm "$IMAGES/interlaced.png" > il.ppm     # 33x31: padded to 36x32
    scvae-encode -t 1 -o il.scv il.ppm
    scvae-decode -t 1 -o - --format pnm il.scv > dec.ppm
    run -0 "$PY" - "$(scvae-model info --json "$TINY" | jq -r .fingerprint)" <<'PY'
import sys, numpy as np, torch, scvae_codes as sc
torch.set_num_threads(1)
def ppm(path):
    parts = open(path, "rb").read().split(None, 4)
    w, h = int(parts[1]), int(parts[2])
    return torch.from_numpy(np.frombuffer(parts[4][:w * h * 3], np.uint8).reshape(h, w, 3).astype(np.float32) / 255).permute(2, 0, 1)[None]
m = torch.jit.load("tiny.pt")
assert (m.fingerprint, m.K, m.d, m.factor) == (sys.argv[1], 32, 2, 4), (m.fingerprint, m.K, m.d, m.factor)
x = ppm("il.ppm")
rec = next(sc.read_codes("il.scv", dense=True))
ref = torch.from_numpy(rec["codes"])[None]
with torch.no_grad():
    z = m.encode(x)
    y = m.decode(ref)[:, :, :31, :33]
    f = m(x)
assert z.shape == ref.shape == (1, 8, 9, 32), (z.shape, ref.shape)
assert (ref != 0).sum() > 0
err = (z - ref).abs().max().item()
assert err <= 1e-4 * (1 + ref.abs().max().item()), err
dec = ppm("dec.ppm")
assert y.shape == dec.shape == f.shape == (1, 3, 31, 33)
assert (y - dec).abs().max().item() <= 1.0 / 255, (y - dec).abs().max().item() * 255  # scvae-decode rounds to 8 bit
# the check can fail: another image's codes are far off
assert (m.encode(torch.flip(x, [3])) - ref).abs().max().item() > 1e-3
print("ok")
PY
    assert_output "ok"
}

@test "scvae-model export: a VQ model's TorchScript module picks the codebook entries scvae-encode picks" {
    if ! "$PY" -c 'import torch' 2>/dev/null; then
        skip "$PY cannot import torch (install Debian's python3-torch to run this test)"
    fi
    scvae-model init --preset tiny --latent vq --vq-ema 0.99 --seed 4 -o vq.scvm
    SCVAE_PYTHON=$PY scvae-model export vq.scvm -o vq.pt
    pngtopnm "$IMAGES/photo64.png" > p.ppm
    scvae-encode -t 1 -m vq.scvm -o p.scv p.ppm
    run -0 "$PY" - <<'PY'
import numpy as np, torch, scvae_codes as sc
torch.set_num_threads(1)
parts = open("p.ppm", "rb").read().split(None, 4)
w, h = int(parts[1]), int(parts[2])
x = torch.from_numpy(np.frombuffer(parts[4][:w * h * 3], np.uint8).reshape(h, w, 3).astype(np.float32) / 255).permute(2, 0, 1)[None]
m = torch.jit.load("vq.pt")
ref = torch.from_numpy(next(sc.read_codes("p.scv", dense=True))["codes"])[None]
with torch.no_grad():
    z = m.encode(x)
    y = m.decode(z)
assert z.shape == ref.shape == (1, 16, 16, 32), (z.shape, ref.shape)
assert bool(((z == 0) | (z == 1)).all()) and bool((z.sum(-1) == 1).all())
# the same entry at (nearly) every position: a near tie may go either way between two summation orders
agree = (z.argmax(-1) == ref.argmax(-1)).float().mean().item()
assert agree >= 0.95, agree
assert y.shape == (1, 3, 64, 64)
print("ok")
PY
    assert_output "ok"
}

@test "bench/pytorch_ref.py (the PyTorch side of bench/compare-pytorch.sh) times a model and prints one JSON document" {
    if ! "$PY" -c 'import torch' 2>/dev/null; then
        skip "$PY cannot import torch (install Debian's python3-torch to run this test)"
    fi
    run -0 --separate-stderr "$PY" "$SCVAE_SOURCE_DIR/bench/pytorch_ref.py" "$TINY" --size 32 --images 2 --threads 1 \
        --train-batch 2 --train-steps 1
    echo "$output" | jq -e '(.size == 32) and (.images == 2) and (.threads == 1) and (.train_batch == 2)
        and (.config.K == 32) and (.config.d == 2)
        and ([.encode_s, .decode_s, .encode_decode_s, .train_step_s, .train_images_per_s] | all(. > 0))
        and (.encode_decode_s == .encode_s + .decode_s)'
}
