#!/usr/bin/env python3
"""scvae_codes - read SC-VAE code streams and model files in pure Python + numpy.

Follows scvae-codes(5) (the code stream: binary .scv records and JSON Lines records, in any mix) and
scvae-model(5) (the .scvm model file). Needs only the standard library and numpy; scipy is used only by
to_scipy(), when it is installed.

    import scvae_codes
    for rec in scvae_codes.read_codes("codes.scv"):            # a path, "-", bytes or a binary file object
        print(rec["source"], rec["grid_h"], rec["grid_w"], rec["nnz"])
        rec["row_ptr"], rec["indices"], rec["values"]           # CSR over grid positions x K atoms
    rec = next(scvae_codes.read_codes("codes.jsonl", dense=True))
    rec["codes"]                                                # float32 array (grid_h, grid_w, K)
    m = scvae_codes.read_model("model.scvm")                   # header dict + numpy tensors
    m["config"], m["fingerprint"], m["tensors"]["lista.D"]

Each record is a dict with the members of the JSON encoding, flattened:
    encoding      "binary" or "json" (how it was stored)
    version       "MAJOR.MINOR" (1.x)
    flags         u32 flags of a binary record (0 or 1 for a JSON one)
    fingerprint   16 lowercase hex digits of the model that made it
    n, K, d       latent dimension, atoms, downsampling blocks
    source        the source name (str; bytes that are not UTF-8 are replaced by U+FFFD, as the tools' JSON does;
                  "source_bytes" keeps the raw bytes)
    width, height, channels          original image size and channel count (1 or 3)
    pad_right, pad_bottom, grid_h, grid_w
    half          True when the values are binary16 (stored as f16, returned as float32)
    nnz           stored nonzeros
    row_ptr       numpy uint32 (grid_h*grid_w + 1)   CSR: the nonzeros of position p = row*grid_w + col are
    indices       numpy uint16 (nnz)                  indices[row_ptr[p]:row_ptr[p+1]] (ascending, < K)
    values        numpy float32 (nnz)                 with these values
    crc32         the record's CRC-32 (int; None for a JSON record without "crc32")
    codes         with dense=True: float32 array (grid_h, grid_w, K), zeros where nothing is stored

Every check of scvae-codes(5) is made (limits, CRC-32, CSR consistency, finite values); a bad record raises
CodesError("<name>: record N: <reason>") after the good records before it were delivered, as the tools do.

Run as a program, it prints each record as one line of JSON in the tools' own JSON Lines form
(python3 scvae_codes.py FILE...), or a model file's header (python3 scvae_codes.py --model FILE).
"""

import io
import json
import math
import struct
import sys
import zlib
from fractions import Fraction

import numpy as np

__all__ = ["CodesError", "ModelError", "read_codes", "read_model", "model_fingerprint", "to_scipy", "to_dense", "record_bytes",
           "record_json"]

MAGIC = b"SCVC"
MAX_P = 1 << 26
WHITESPACE = b" \t\r\n"


class CodesError(ValueError):
    """A code stream that breaks scvae-codes(5): "<name>: record N: <reason>"."""


class ModelError(ValueError):
    """A model file that breaks scvae-model(5): "<name>: <reason>"."""


# --------------------------------------------------------------------------------------------------------------
# Reading bytes record by record


class _Input:
    """A binary stream with a small look-ahead buffer (reads only what each record needs)."""

    def __init__(self, f):
        self.f = f
        self.buf = b""

    def peek(self, n):
        while len(self.buf) < n:
            chunk = self.f.read(max(n - len(self.buf), 65536))
            if not chunk:
                break
            self.buf += chunk
        return self.buf[:n]

    def read(self, n):
        out = self.peek(n)
        self.buf = self.buf[len(out):]
        return out

    def skip_whitespace(self):
        while True:
            if not self.peek(1):
                return False
            stripped = self.buf.lstrip(WHITESPACE)
            if stripped:
                self.buf = stripped
                return True
            self.buf = b""

    def read_line(self):
        parts = []
        while True:
            if not self.peek(1):
                return b"".join(parts), False
            i = self.buf.find(b"\n")
            if i >= 0:
                parts.append(self.buf[:i])
                self.buf = self.buf[i + 1:]
                return b"".join(parts), True
            parts.append(self.buf)
            self.buf = b""


def _open(source):
    """(binary file object, name, close?) for a path, "-", bytes or a file object."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source)), "<bytes>", True
    if isinstance(source, str):
        if source == "-":
            return sys.stdin.buffer, "<stdin>", False
        return open(source, "rb"), source, True
    if hasattr(source, "__fspath__"):
        path = source.__fspath__()
        return open(path, "rb"), str(path), True
    f = getattr(source, "buffer", source)  # a text stream's binary buffer
    return f, getattr(source, "name", "<stream>"), False


def read_codes(source, dense=False, verify=True):
    """Yields the records of a code stream (see the module's documentation for the members).

    source: a path, "-" (standard input), bytes, or a binary file object.
    dense:  also give each record's "codes" as a float32 (grid_h, grid_w, K) array.
    verify: check CRC-32s (always on in the tools; off only to look at a damaged file).
    """
    f, name, close = _open(source)
    try:
        inp = _Input(f)
        n = 0
        while inp.skip_whitespace():
            n += 1
            try:
                if inp.peek(1) == b"{":
                    rec = _read_json(inp, n == 1, verify)
                else:
                    rec = _read_binary(inp, n == 1, verify)
                _validate(rec)
            except CodesError as e:
                raise CodesError(f"{name}: record {n}: {e}") from None
            if dense:
                rec["codes"] = to_dense(rec)
            yield rec
    finally:
        if close:
            f.close()


def _u32s(b, count, off=0):
    return struct.unpack_from(f"<{count}I", b, off)


def _check_header(rec):
    if not 1 <= rec["K"] <= 65536:
        raise CodesError(f"K={rec['K']} out of range")
    if not 1 <= rec["n"] <= 65536:
        raise CodesError(f"n={rec['n']} out of range")
    if rec["d"] > 16:
        raise CodesError(f"d={rec['d']} out of range")
    if rec["channels"] not in (1, 3):
        raise CodesError(f"image channels {rec['channels']} out of range")
    w, h = rec["width"], rec["height"]
    if w < 1 or h < 1 or w * h > 100_000_000:
        raise CodesError(f"image size {w}x{h} out of range")
    gh, gw, s = rec["grid_h"], rec["grid_w"], 1 << rec["d"]
    if gh * gw > MAX_P:
        raise CodesError(f"grid {gh}x{gw} is too large")
    if (rec["pad_right"] >= s or rec["pad_bottom"] >= s or gw * s != w + rec["pad_right"]
            or gh * s != h + rec["pad_bottom"]):
        raise CodesError(f"grid {gw}x{gh} does not fit image size {w}x{h} with padding "
                         f"{rec['pad_right']},{rec['pad_bottom']} and d={rec['d']}")
    if rec["nnz"] > gh * gw * rec["K"]:
        raise CodesError(f"nnz {rec['nnz']} exceeds positions x K")


def _read_binary(inp, first, verify):
    pre = inp.read(16)
    if not (pre[:4] == MAGIC or (len(pre) < 4 and MAGIC.startswith(pre))):
        raise CodesError("not a scvae code stream (bad magic)" if first else "bad magic")
    if len(pre) < 16:
        raise CodesError(f"truncated record (expected at least 16 bytes, got {len(pre)})")
    major, minor, flags, L = struct.unpack_from("<HHII", pre, 4)
    if major != 1:
        raise CodesError(f"unsupported format version {major}.{minor} (this scvae reads 1.x)")
    if flags & 0xFFFE:
        raise CodesError(f"unsupported flags 0x{flags:08x} (this scvae reads 1.x)")
    if not 56 <= L <= 65536:
        raise CodesError("bad header length")
    hdr = inp.read(L)
    if len(hdr) < L:
        raise CodesError(f"truncated record (expected at least {16 + L} bytes, got {16 + len(hdr)})")
    n, K, d, width, height, channels, pad_r, pad_b, gh, gw, nnz, name_len = _u32s(hdr, 12, 8)
    if name_len > 4096 or name_len > L - 56:
        raise CodesError(f"source name length {name_len} is too long")
    raw_name = hdr[56:56 + name_len]
    rec = {
        "encoding": "binary", "version": f"{major}.{minor}", "flags": flags, "fingerprint": hdr[:8].hex(),
        "n": n, "K": K, "d": d, "source": raw_name.decode("utf-8", "replace"), "source_bytes": raw_name,
        "width": width, "height": height, "channels": channels, "pad_right": pad_r, "pad_bottom": pad_b,
        "grid_h": gh, "grid_w": gw, "half": bool(flags & 1), "nnz": nnz,
    }
    _check_header(rec)
    P = gh * gw
    V = 2 if flags & 1 else 4
    size = 4 * (P + 1) + 2 * nnz + V * nnz
    body = inp.read(size)
    total = 16 + L + size + 4
    if len(body) < size:
        raise CodesError(f"truncated record (expected {total} bytes, got {16 + L + len(body)})")
    trailer = inp.read(4)
    if len(trailer) < 4:
        raise CodesError(f"truncated record (expected {total} bytes, got {total - 4 + len(trailer)})")
    crc = zlib.crc32(body, zlib.crc32(hdr, zlib.crc32(pre)))
    stored = struct.unpack("<I", trailer)[0]
    if verify and crc != stored:
        raise CodesError("checksum mismatch")
    rec["row_ptr"] = np.frombuffer(body, "<u4", P + 1).astype(np.uint32)
    rec["indices"] = np.frombuffer(body, "<u2", nnz, 4 * (P + 1)).astype(np.uint16)
    rec["values"] = np.frombuffer(body, "<f2" if V == 2 else "<f4", nnz, 4 * (P + 1) + 2 * nnz).astype(np.float32)
    rec["crc32"] = stored
    return rec


def _f32_exact(texts):
    """Decimal texts (str, or int) to float32 with one correct rounding, as strtof does.

    float() rounds to binary64 first; that can only go wrong when the binary64 result is exactly halfway
    between two binary32 numbers, and those few are settled with exact rational arithmetic.
    """
    d = np.array([float(t) for t in texts], dtype=np.float64)
    with np.errstate(over="ignore"):
        f = d.astype(np.float32)
    back = f.astype(np.float64)
    for i in np.nonzero(back != d)[0]:
        other = np.nextafter(f[i], np.float32(math.copysign(math.inf, d[i] - back[i])))
        if not np.isfinite(other) or (float(back[i]) + float(other)) / 2 != d[i]:
            continue  # not a tie
        exact = Fraction(texts[i]) if isinstance(texts[i], str) else Fraction(int(texts[i]))
        mid = (Fraction(float(back[i])) + Fraction(float(other))) / 2
        if exact != mid:
            f[i] = other if abs(exact - Fraction(float(other))) < abs(exact - Fraction(float(back[i]))) else f[i]
    return f


def _read_json(inp, first, verify):
    line, _ = inp.read_line()
    try:
        obj = json.loads(line.decode("utf-8"), parse_float=str)
    except (UnicodeDecodeError, ValueError) as e:
        raise CodesError(f"invalid JSON: {e}") from None
    if not isinstance(obj, dict) or obj.get("format") != "scvae-codes":
        raise CodesError("not a scvae code stream (bad magic)" if first else "bad magic")

    def get(o, key, kind, where=""):
        if key not in o:
            raise CodesError(f'missing field "{where}{key}"')
        v = o[key]
        if kind is int and not (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 0xFFFFFFFF):
            raise CodesError(f'field "{where}{key}" is not an unsigned 32-bit integer')
        if kind is str and not isinstance(v, str):
            raise CodesError(f'field "{where}{key}" is not a string')
        if kind is dict and not isinstance(v, dict):
            raise CodesError(f'field "{where}{key}" is not an object')
        if kind is list and not isinstance(v, list):
            raise CodesError(f'field "{where}{key}" is not an array')
        return v

    version = get(obj, "version", str)
    try:
        major, minor = (int(x) for x in version.split("."))
    except ValueError:
        raise CodesError(f'field "version" is not "MAJOR.MINOR"') from None
    if major != 1:
        raise CodesError(f"unsupported format version {major}.{minor} (this scvae reads 1.x)")
    fp = get(obj, "fingerprint", str)
    if len(fp) != 16 or any(c not in "0123456789abcdef" for c in fp):
        raise CodesError('field "fingerprint" is not 16 lowercase hex digits')
    image, pad, grid = get(obj, "image", dict), get(obj, "pad", dict), get(obj, "grid", dict)
    half = obj.get("half", False)
    if not isinstance(half, bool):
        raise CodesError('field "half" is not true or false')
    source = get(obj, "source", str)
    rec = {
        "encoding": "json", "version": version, "flags": int(half), "fingerprint": fp,
        "n": get(obj, "n", int), "K": get(obj, "K", int), "d": get(obj, "d", int),
        "source": source, "source_bytes": source.encode("utf-8", "surrogatepass"),
        "width": get(image, "width", int, "image."), "height": get(image, "height", int, "image."),
        "channels": get(image, "channels", int, "image."),
        "pad_right": get(pad, "right", int, "pad."), "pad_bottom": get(pad, "bottom", int, "pad."),
        "grid_h": get(grid, "h", int, "grid."), "grid_w": get(grid, "w", int, "grid."), "half": half,
    }
    row_ptr, indices, values = get(obj, "row_ptr", list), get(obj, "indices", list), get(obj, "values", list)
    rec["nnz"] = len(indices)
    _check_header(rec)
    if "nnz" in obj and get(obj, "nnz", int) != len(indices):
        raise CodesError(f"nnz {obj['nnz']} does not match {len(indices)} indices")
    if len(row_ptr) != rec["grid_h"] * rec["grid_w"] + 1:
        raise CodesError(f"row_ptr has {len(row_ptr)} entries, expected {rec['grid_h'] * rec['grid_w'] + 1}")
    if len(values) != len(indices):
        raise CodesError(f"{len(values)} values for {len(indices)} indices")
    for arr, what, top in ((row_ptr, "row_ptr", 0xFFFFFFFF), (indices, "indices", 0xFFFF)):
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= top for v in arr):
            raise CodesError(f'field "{what}" holds a value that is not an integer in range')
    if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in values):
        raise CodesError('field "values" holds a value that is not a number')
    rec["row_ptr"] = np.array(row_ptr, dtype=np.uint32)
    rec["indices"] = np.array(indices, dtype=np.uint16)
    vals = _f32_exact(values) if values else np.zeros(0, np.float32)
    if half:
        with np.errstate(over="ignore"):
            vals = vals.astype(np.float16).astype(np.float32)  # round to nearest even, as the reader must
    rec["values"] = vals
    rec["crc32"] = None
    if "crc32" in obj:
        text = get(obj, "crc32", str)
        try:
            stored = int(text, 16)
        except ValueError:
            raise CodesError('field "crc32" is not 8 hex digits') from None
        if len(text) != 8:
            raise CodesError('field "crc32" is not 8 hex digits')
        if verify and np.all(np.isfinite(vals)) and _crc_of(rec) != stored:
            raise CodesError("checksum mismatch")
        rec["crc32"] = stored
    return rec


def _validate(rec):
    P = rec["grid_h"] * rec["grid_w"]
    rp, idx, vals, K = rec["row_ptr"], rec["indices"], rec["values"], rec["K"]
    if rp[0] != 0 or rp[P] != len(idx):
        raise CodesError(f"row_ptr must start at 0 and end at nnz={len(idx)}")
    steps = np.diff(rp.astype(np.int64))
    if np.any(steps < 0):
        raise CodesError(f"row_ptr decreases at position {int(np.argmax(steps < 0))}")
    pos = np.repeat(np.arange(P), steps)  # the position of every nonzero
    bad = np.nonzero(idx >= K)[0]
    if len(bad):
        raise CodesError(f"index {int(idx[bad[0]])} >= K (K={K}) at position {int(pos[bad[0]])}")
    if len(idx) > 1:
        same = pos[1:] == pos[:-1]
        bad = np.nonzero(same & (idx[1:].astype(np.int64) <= idx[:-1].astype(np.int64)))[0]
        if len(bad):
            raise CodesError(f"indices not ascending at position {int(pos[bad[0] + 1])}")
    bad = np.nonzero(~np.isfinite(vals))[0]
    if len(bad):
        raise CodesError(f"value is NaN or infinite at position {int(pos[bad[0]])}")
    bad = np.nonzero(np.abs(vals) > np.float32(1e15))[0]
    if len(bad):
        raise CodesError(f"value out of range ({vals[bad[0]]!r}, |value| at most 1e15) at position {int(pos[bad[0]])}")


# --------------------------------------------------------------------------------------------------------------
# Writing (the binary form a record's CRC is defined over) and conversions


def record_bytes(rec):
    """The version 1.0 binary record of `rec` (what scvae writes), CRC-32 trailer included."""
    name = rec.get("source_bytes", rec["source"].encode("utf-8"))
    half = bool(rec.get("half", False))
    pre = MAGIC + struct.pack("<HHII", 1, 0, 1 if half else 0, 56 + len(name))
    hdr = bytes.fromhex(rec["fingerprint"]) + struct.pack(
        "<12I", rec["n"], rec["K"], rec["d"], rec["width"], rec["height"], rec["channels"], rec["pad_right"],
        rec["pad_bottom"], rec["grid_h"], rec["grid_w"], len(rec["indices"]), len(name)) + name
    vals = np.asarray(rec["values"], np.float32)
    body = (np.asarray(rec["row_ptr"], "<u4").tobytes() + np.asarray(rec["indices"], "<u2").tobytes()
            + (vals.astype("<f2") if half else vals.astype("<f4")).tobytes())
    data = pre + hdr + body
    return data + struct.pack("<I", zlib.crc32(data))


def _crc_of(rec):
    return struct.unpack("<I", record_bytes(rec)[-4:])[0]


def _shortest_f32(v):
    """The shortest decimal text that reads back to the same binary32, fixed or scientific, whichever is shorter
    (fixed on a tie): what C++ std::to_chars writes, and so the tools."""
    v = float(v)
    if v == 0:
        return "-0.0" if math.copysign(1.0, v) < 0 else "0"
    sign = "-" if v < 0 else ""
    for p in range(1, 10):
        text = f"{abs(v):.{p - 1}e}"
        if np.float32(float(text)) == np.float32(abs(v)):
            break
    mant, _, exp = text.partition("e")
    digits, e = mant.replace(".", ""), int(exp)
    sci = digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + "e" + ("-" if e < 0 else "+") + f"{abs(e):02d}"
    if e >= 0:
        fixed = digits + "0" * (e + 1 - len(digits)) if len(digits) <= e + 1 else digits[:e + 1] + "." + digits[e + 1:]
    else:
        fixed = "0." + "0" * (-e - 1) + digits
    return sign + (fixed if len(fixed) <= len(sci) else sci)


def record_json(rec):
    """The record as one line of the tools' JSON Lines form (members in the writer's order)."""
    members = [
        ("format", "scvae-codes"), ("version", "1.0"), ("fingerprint", rec["fingerprint"]),
        ("n", rec["n"]), ("K", rec["K"]), ("d", rec["d"]), ("source", rec["source"]),
        ("image", {"width": rec["width"], "height": rec["height"], "channels": rec["channels"]}),
        ("pad", {"right": rec["pad_right"], "bottom": rec["pad_bottom"]}),
        ("grid", {"h": rec["grid_h"], "w": rec["grid_w"]}), ("half", bool(rec["half"])),
        ("nnz", int(len(rec["indices"]))), ("row_ptr", [int(x) for x in rec["row_ptr"]]),
        ("indices", [int(x) for x in rec["indices"]]),
    ]
    text = ",".join(json.dumps(k) + ":" + json.dumps(v, ensure_ascii=False, separators=(",", ":"))
                    for k, v in members)
    text += ',"values":[' + ",".join(_shortest_f32(v) for v in rec["values"]) + "]"
    return "{" + text + ',"crc32":"' + f"{_crc_of(rec):08x}" + '"}'


def to_dense(rec):
    """The codes as a float32 array (grid_h, grid_w, K)."""
    P = rec["grid_h"] * rec["grid_w"]
    out = np.zeros((P, rec["K"]), np.float32)
    rows = np.repeat(np.arange(P), np.diff(rec["row_ptr"].astype(np.int64)))
    out[rows, rec["indices"].astype(np.int64)] = rec["values"]
    return out.reshape(rec["grid_h"], rec["grid_w"], rec["K"])


def to_scipy(rec):
    """The codes as a scipy.sparse.csr_matrix of shape (grid_h*grid_w, K) (needs scipy)."""
    import scipy.sparse  # only here: scipy is optional

    P = rec["grid_h"] * rec["grid_w"]
    return scipy.sparse.csr_matrix((rec["values"], rec["indices"].astype(np.int32), rec["row_ptr"].astype(np.int64)),
                                   shape=(P, rec["K"]))


# --------------------------------------------------------------------------------------------------------------
# Model files (scvae-model(5))


def _fnv1a(chunks, basis=14695981039346656037):
    h = basis
    prime, mask = 1099511628211, 0xFFFFFFFFFFFFFFFF
    for b in chunks:
        for byte in b:
            h = ((h ^ byte) * prime) & mask
    return h


def model_fingerprint(config, tensors, order):
    """The fingerprint of scvae-model(5) (pure Python: seconds for a big model)."""
    chunks = [json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")]
    for name in order:
        t = tensors[name]
        chunks.append(name.encode("utf-8") + b"\0")
        chunks.append(struct.pack("<Q", t.ndim) + b"".join(struct.pack("<Q", s) for s in t.shape))
        v = np.ascontiguousarray(t, dtype="<f4").copy()
        v[v == 0] = 0.0  # -0 as +0
        chunks.append(v.tobytes())
    return f"{_fnv1a(chunks):016x}"


def read_model(source, weights=True):
    """Reads a .scvm model file: a dict with "version", "config", "fingerprint", "meta", "tensor_info" (the
    header's list) and, with weights, "tensors": {name: float32 numpy array} (f16 tensors widened). The
    CRC-32 is checked; the fingerprint is not recomputed (see model_fingerprint)."""
    f, name, close = _open(source)
    try:
        data = f.read()
    finally:
        if close:
            f.close()
    if data[:8] != b"SCVAEMDL":
        raise ModelError(f"{name}: not a scvae model file")
    if len(data) < 20:
        raise ModelError(f"{name}: truncated model file")
    version, J = struct.unpack_from("<II", data, 8)
    if version != 1:
        raise ModelError(f"{name}: unsupported model file version {version}")
    if 16 + J + 4 > len(data):
        raise ModelError(f"{name}: truncated model file")
    try:
        header = json.loads(data[16:16 + J].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ModelError(f"{name}: not a scvae model file") from None
    if not isinstance(header, dict) or header.get("format") != "scvae-model":
        raise ModelError(f"{name}: not a scvae model file")
    B = sum(t["bytes"] for t in header["tensors"])
    end = 16 + J + B
    if end + 4 > len(data):
        raise ModelError(f"{name}: truncated model file")
    if end + 4 < len(data):
        raise ModelError(f"{name}: {len(data) - end - 4} bytes after the checksum")
    if zlib.crc32(data[:end]) != struct.unpack_from("<I", data, end)[0]:
        raise ModelError(f"{name}: model file checksum mismatch")
    out = {"version": version, "config": header["config"], "fingerprint": header["fingerprint"],
           "meta": header.get("meta", {}), "tensor_info": header["tensors"]}
    if weights:
        tensors = {}
        for t in header["tensors"]:
            dt = "<f2" if t["dtype"] == "f16" else "<f4"
            count = int(np.prod(t["shape"], dtype=np.int64)) if t["shape"] else 1
            if t["bytes"] != count * (2 if t["dtype"] == "f16" else 4):
                raise ModelError(f"{name}: tensor {t['name']} has {t['bytes']} bytes for shape {t['shape']}")
            arr = np.frombuffer(data, dt, count, 16 + J + t["offset"]).astype(np.float32)
            tensors[t["name"]] = arr.reshape(t["shape"])
        out["tensors"] = tensors
    return out


def main(argv):
    if len(argv) >= 2 and argv[0] == "--model":
        for path in argv[1:]:
            m = read_model(path, weights=False)
            print(json.dumps({"file": path, "fingerprint": m["fingerprint"], "config": m["config"],
                              "tensors": len(m["tensor_info"])}))
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: scvae_codes.py CODES...  (records as JSON Lines)\n"
              "       scvae_codes.py --model MODEL.scvm...  (model headers)", file=sys.stderr)
        return 2
    for path in argv:
        for rec in read_codes(path):
            print(record_json(rec))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (CodesError, ModelError, OSError) as e:
        print(f"scvae_codes.py: {e}", file=sys.stderr)
        sys.exit(1)
    except BrokenPipeError:
        sys.exit(1)
