#!/usr/bin/env python3
"""Writes N small PNGs (folders of 1,000; 32x32, every tenth 64x48) for the explain memory benchmark (BENCHMARKS.md): python3 tools/make_image_folder.py 50000 /tmp/imgs50k"""
import os, struct, zlib, random, sys
def png(w, h, seed):
    r = random.Random(seed)
    base = [r.randrange(256) for _ in range(3)]
    row = bytes((base[i % 3] + (i * 7) % 50) % 256 for i in range(w * 3))
    raw = b"".join(b"\0" + row[y % 5:] + row[:y % 5] for y in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
n, out = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    d = os.path.join(out, f"d{i // 1000:03d}")
    os.makedirs(d, exist_ok=True)
    w, h = (64, 48) if i % 10 == 0 else (32, 32)
    open(os.path.join(d, f"img{i:06d}.png"), "wb").write(png(w, h, i))
