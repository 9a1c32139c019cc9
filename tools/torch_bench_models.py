#!/usr/bin/env python3
"""PyTorch's side of `fastshap bench models`: the same full-size networks (defined in
fastshap_torch.py with fastshap's names and layouts), forward (eval, no_grad) and one training
step (train mode, loss, backward, Adam) per second at the same batch, fp32 on CPU by default.

    python tools/torch_bench_models.py --batch 4 [--device cpu|cuda] [--models vit,resnet18]
        [--json out.json]
"""
import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

import fastshap_torch as t

MAE = {"in_channels": 3, "image": 32, "patch": 2, "dim": 192, "heads": 3, "mlp": 768,
       "encoder_depth": 12, "decoder_depth": 4, "mask_ratio": 0.75}


def wall(fn, reps, device):
    fn()
    if device == "cuda":
        torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json")
    # As `fastshap bench models --models`: time only these (comma-separated), beside ours.
    ap.add_argument("--models", default="resnet18,vit,mae,mae-classifier,unet")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev, b = a.device, a.batch
    x = torch.randn(b, 3, 32, 32, device=dev)
    y = torch.arange(b, device=dev) % 10
    shuffles = torch.stack([torch.randperm(256) for _ in range(b)]).to(dev)
    nets = {
        "resnet18": (t.ResNet(3, 10, [64, 128, 256, 512], [2, 2, 2, 2]), lambda m: F.cross_entropy(m(x), y)),
        "vit": (t.Vit(3, 10, 32, 4, 384, 384, 12, 7), lambda m: F.cross_entropy(m(x), y)),
        "mae": (t.Mae(MAE), lambda m: m(x, shuffles)[1]),
        "mae-classifier": (t.MaeClassifier(MAE, 10), lambda m: F.cross_entropy(m(x), y)),
        "unet": (t.UNet(3, 10, 64, 3, 2), lambda m: F.mse_loss(m(x), torch.zeros(b, 10, 16, 16, device=dev))),
    }
    rows = []
    wanted = a.models.split(",")
    for name, (m, loss) in nets.items():
        if name not in wanted:
            continue
        m = m.to(dev)
        opt = torch.optim.Adam(m.parameters(), 1e-4)

        def fwd():
            m.eval()
            with torch.no_grad():
                loss(m)

        def step():
            m.train()
            opt.zero_grad()
            loss(m).backward()
            opt.step()

        for kind, fn in (("forward", fwd), ("train step", step)):
            s = wall(fn, a.reps, dev)
            rows.append({"model": name, "what": kind, "batch": b, "secs": s, "images_per_sec": b / s,
                         "device": torch.cuda.get_device_name() if dev == "cuda" else "cpu",
                         "threads": torch.get_num_threads(), "tf32": False})
            print(f"{name:<16} {kind:<11} batch {b:<4} {s * 1e3:10.1f} ms {b / s:8.2f} img/s")
    if a.json:
        # Atomic: a run cut short by a timeout leaves no half-written file.
        with open(a.json + ".tmp", "w") as f:
            json.dump(rows, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
