#!/usr/bin/env python3
"""Extract the files inside Qt binary resource bundles (.rcc), standard library only.

Usage: rcc-extract.py OUTDIR FILE.rcc...   (prints one extracted path per line)

Format (qtbase src/corelib/io/qresource.cpp, rcc.cpp), all integers big-endian:
  header  "qres", u32 version (1..3), u32 tree offset, u32 data offset, u32 names offset, [v3: u32 flags]
  tree    nodes of 14 bytes (v1) or 22 bytes (v2+, with a u64 mtime):
          u32 name offset, u16 flags (1 zlib, 2 directory, 4 zstd),
          directory: u32 child count, u32 first child index;  file: u16 country, u16 language, u32 data offset
  names   u16 length, u32 hash, length UTF-16BE code units
  data    u32 size, then the bytes; zlib entries carry qCompress's u32 uncompressed size before the stream.
"""
import os
import struct
import sys
import zlib
import subprocess


def extract(path, outdir):
    buf = open(path, "rb").read()
    if buf[:4] != b"qres":
        raise ValueError(f"{path}: not a Qt resource file")
    version, tree, data, names = struct.unpack(">IIII", buf[4:20])
    node_size = 14 if version < 2 else 22
    out = []

    def name_at(off):
        (length,) = struct.unpack(">H", buf[names + off:names + off + 2])
        raw = buf[names + off + 6:names + off + 6 + 2 * length]
        return raw.decode("utf-16-be")

    def walk(index, prefix):
        base = tree + index * node_size
        name_off, flags = struct.unpack(">IH", buf[base:base + 6])
        name = name_at(name_off) if index else ""
        rel = os.path.join(prefix, name) if name else prefix
        if flags & 2:
            count, first = struct.unpack(">II", buf[base + 6:base + 14])
            for child in range(first, first + count):
                walk(child, rel)
            return
        (doff,) = struct.unpack(">I", buf[base + 10:base + 14])
        (size,) = struct.unpack(">I", buf[data + doff:data + doff + 4])
        blob = buf[data + doff + 4:data + doff + 4 + size]
        if flags & 1:
            blob = zlib.decompress(blob[4:])
        elif flags & 4:
            blob = subprocess.run(["zstd", "-dc"], input=blob, stdout=subprocess.PIPE, check=True).stdout
        safe = os.path.normpath(rel).lstrip("/")
        if safe.startswith(".."):
            return
        dest = os.path.join(outdir, safe)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(blob)
        out.append(dest)

    walk(0, "")
    return out


def main():
    if len(sys.argv) < 3:
        sys.stderr.write("usage: rcc-extract.py OUTDIR FILE.rcc...\n")
        return 2
    status = 0
    for path in sys.argv[2:]:
        try:
            for p in extract(path, sys.argv[1]):
                print(p)
        except Exception as e:  # report and keep going: one bad bundle must not lose the others
            sys.stderr.write(f"rcc-extract.py: {path}: {e}\n")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
