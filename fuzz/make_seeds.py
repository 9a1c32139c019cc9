#!/usr/bin/env python3
"""Writes the small seed corpus of the fuzz targets (run from fuzz/; needs ImageMagick's convert)."""
import io, json, os, struct, tarfile, zlib, gzip, random

random.seed(0)

def png(w, h, color_type=2, depth=8):
    ch = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row = bytes([random.randrange(256) for _ in range(w * ch * depth // 8)])
    raw = b"".join(b"\0" + row for _ in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

def jpeg():
    # A small real JPEG (not 32x32, so the loader decodes it and then refuses its size).
    with open("corpus/image_folder/jpg_small", "rb") as f:
        return f.read()[1:]

def put(target, name, data):
    with open(f"corpus/{target}/{name}", "wb") as f:
        f.write(data)

def tar_bytes(files, gz=False):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for path, data in files:
            info = tarfile.TarInfo(path)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    b = buf.getvalue()
    return gzip.compress(b, mtime=0) if gz else b

# image_folder: raw images (first byte: even = .png, odd = .jpg) and whole archives.
put("image_folder", "ok_rgb32.png", png(32, 32))
put("image_folder", "png_rgb", b"\0" + png(32, 32))
put("image_folder", "png_gray", b"\0" + png(32, 32, 0))
put("image_folder", "png_rgba", b"\0" + png(32, 32, 6))
put("image_folder", "png_16bit", b"\0" + png(32, 32, 2, 16))
put("image_folder", "png_33x30", b"\0" + png(33, 30))
tree = [("d/train/cat/a.png", png(32, 32)), ("d/train/dog/b.jpg", jpeg()),
        ("d/test/cat/c.png", png(32, 32)), ("d/test/dog/d.png", png(32, 32))]
put("image_folder", "tree.tar", tar_bytes(tree))
put("image_folder", "tree.tar.gz", tar_bytes(tree, gz=True))

# cifar_binary: u16 train length, u16 test length, then the bytes.
def records(n, labels=10):
    return b"".join(bytes([random.randrange(labels)]) + bytes(3072) for _ in range(n))
tr, te = records(2), records(1)
meta = b"\n".join(b"c%d" % i for i in range(10)) + b"\n"
put("cifar_binary", "ok", struct.pack("<HH", len(tr), len(te)) + tr + te + meta)
put("cifar_binary", "ok_nometa", struct.pack("<HH", len(tr), len(te)) + tr + te)
put("cifar_binary", "truncated", struct.pack("<HH", len(tr) - 7, len(te)) + tr[:-7] + te)
put("cifar_binary", "bad_label", struct.pack("<HH", len(tr), len(te)) + b"\x0b" + tr[1:] + te)
put("cifar_binary", "two_classes", struct.pack("<HH", 3073, 3073) + b"\1" + bytes(3072) + b"\0" + bytes(3072) + b"a\nb\n")
# The same layouts as real archives, for image_folder's archive path.
put("image_folder", "cifar_bin.tar.gz", tar_bytes([("cifar-10-batches-bin/data_batch_1.bin", tr),
                                                  ("cifar-10-batches-bin/test_batch.bin", te)], gz=True))

# checkpoint: safetensors against embed.weight [4,3], embed.bias [4], head.weight [2,4].
def safetensors(tensors, meta=None, dtype="F32"):
    size = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8}[dtype]
    header, data = {}, b""
    for name, shape in tensors:
        n = 1
        for s in shape:
            n *= s
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + n * size]}
        data += bytes(random.randrange(256) for _ in range(n * size))
    if meta is not None:
        header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data
ok = [("embed.weight", [4, 3]), ("embed.bias", [4]), ("head.weight", [2, 4])]
put("checkpoint", "ok", safetensors(ok, {"fastshap.arch": "vit", "fastshap.config": "{}"}))
put("checkpoint", "ok_f16", safetensors(ok, dtype="F16"))
put("checkpoint", "ok_bf16", safetensors(ok, dtype="BF16"))
put("checkpoint", "i64", safetensors(ok, dtype="I64"))
put("checkpoint", "wrong_shape", safetensors([("embed.weight", [3, 4]), ("embed.bias", [4]), ("head.weight", [2, 4])]))
put("checkpoint", "missing_extra", safetensors([("embed.weight", [4, 3]), ("other", [1]), ("x.num_batches_tracked", [])]))
full = safetensors(ok)
put("checkpoint", "truncated", full[: len(full) // 2])
