#!/usr/bin/env python3
"""PyTorch parity fixtures for fastshap's models.

Builds each network (from tools/fastshap_torch.py, the one PyTorch definition of them) at a
reduced width with a fixed seed, and writes one safetensors file per network into
tests/fixtures/torch/: the weights (`p.<name>`), a fixed input batch, the outputs in train and
eval mode, and the gradients of loss = Σ out ⊙ R with respect to the input and every parameter
(`g.<name>`). The Rust test `tests/parity.rs` loads each file and compares.

`plain_<arch>.safetensors` are bare `state_dict()`s as a PyTorch user saves them (no fastshap
metadata), with `plain_<arch>.expected.safetensors` holding an input batch and the eval-mode
logits: `tests/parity.rs` loads them through `--arch` inference.

Run (PyTorch on CPU, in a virtualenv outside the repo):
    python tools/torch_fixtures.py
"""
import json
import os

import torch
import torch.nn as nn
from safetensors.torch import save_file

import fastshap_torch as fs
from fastshap_torch import Mae, MaeClassifier, ResNet, UNet, Vit

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torch")


def randomise_bn(model, gen):
    """Non-trivial BN statistics and affine parameters, so eval mode is a real test."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(m.num_features, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=gen) * 0.1)


def state(model):
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}


def record(name, model, config, x, run, extra=None):
    """run(model, x) -> output tensor; records train and eval passes."""
    tensors = {f"p.{k}": v for k, v in state(model).items()}
    tensors["input"] = x.clone()
    gen = torch.Generator().manual_seed(7)
    model.train()
    x_train = x.clone().requires_grad_(True)
    out = run(model, x_train)
    r = torch.randn(out.shape, generator=gen)
    tensors["r"] = r
    loss = (out * r).sum()
    model.zero_grad()
    loss.backward()
    tensors["out_train"] = out.detach().clone()
    tensors["g.input"] = x_train.grad.clone()
    for k, p in model.named_parameters():
        tensors[f"g.{k}"] = p.grad.detach().clone()
    # running statistics after one training pass
    for k, v in state(model).items():
        if "running_" in k:
            tensors[f"after.{k}"] = v
    model.eval()
    with torch.no_grad():
        tensors["out_eval"] = run(model, x).detach().clone()
    if extra:
        tensors.update(extra)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"{name}.safetensors")
    save_file({k: v.float().contiguous() for k, v in tensors.items()}, path, metadata={"config": json.dumps(config)})
    print(f"{path}: {os.path.getsize(path) / 1024:.0f} KiB, {sum(p.numel() for p in model.parameters())} params")


def record_plain(name, model, x, flags):
    """A bare state dict (no metadata) and, beside it, the input and eval-mode logits."""
    model.eval()
    with torch.no_grad():
        logits = model(x)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, f"plain_{name}.safetensors")
    save_file(state(model), path)
    save_file({"input": x.contiguous(), "logits": logits.contiguous()},
              os.path.join(OUT, f"plain_{name}.expected.safetensors"), metadata={"flags": json.dumps(flags)})
    print(f"{path}: {os.path.getsize(path) / 1024:.0f} KiB, {sum(p.numel() for p in model.parameters())} params")


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 32, 32, generator=gen)

    rc = {"in_channels": 3, "classes": 10, "widths": [4, 8, 8, 8], "blocks": [1, 1, 1, 1]}
    resnet = ResNet(rc["in_channels"], rc["classes"], rc["widths"], rc["blocks"])
    randomise_bn(resnet, gen)
    record("resnet", resnet, rc, x, lambda m, i: m(i))

    x4 = torch.randn(2, 4, 32, 32, generator=gen)
    rc4 = dict(rc, in_channels=4)
    resnet4 = ResNet(4, 10, rc["widths"], rc["blocks"])
    randomise_bn(resnet4, gen)
    record("resnet_surrogate", resnet4, rc4, x4, lambda m, i: m(i))

    vc = {"in_channels": 3, "classes": 10, "image": 32, "patch": 4, "dim": 16, "mlp": 24, "heads": 2, "depth": 2}
    vit = Vit(**vc)
    record("vit", vit, vc, x, lambda m, i: m(i))

    mc = {"in_channels": 3, "image": 32, "patch": 2, "dim": 16, "heads": 2, "mlp": 32, "encoder_depth": 2, "decoder_depth": 1, "mask_ratio": 0.75}
    mae = Mae(mc)
    shuffles = torch.stack([torch.randperm(256, generator=gen) for _ in range(2)])
    record("mae", mae, mc, x, lambda m, i: m(i, shuffles)[1].reshape(1), {"shuffles": shuffles.float()})
    record("mae_pred", mae, mc, x, lambda m, i: m(i, shuffles)[0], {"shuffles": shuffles.float()})

    mcl = MaeClassifier(mc, 10)
    record("mae_classifier", mcl, dict(mc, classes=10), x, lambda m, i: m(i))

    uc = {"in_channels": 3, "classes": 10, "base": 4, "convs": 3, "superpixel": 2}
    unet = UNet(**uc)
    randomise_bn(unet, gen)
    record("unet", unet, uc, x, lambda m, i: m(i))

    # Plain state dicts: the ResNet18 block structure at tiny widths, a 2-head ViT, an MAE
    # classifier with 5 classes and a 3-block ViT, to show that nothing is assumed.
    plain_resnet = fs.resnet18(classes=10, widths=(4, 8, 8, 16))
    randomise_bn(plain_resnet, gen)
    record_plain("resnet18", plain_resnet, x, ["--arch", "resnet18"])
    plain_vit = fs.vit(classes=10, dim=16, mlp=24, heads=2, depth=3)
    record_plain("vit", plain_vit, x, ["--arch", "vit", "--heads", "2"])
    fs.export(plain_vit, os.path.join(OUT, "exported_vit.safetensors"))  # the same ViT, with metadata
    record_plain("mae_classifier", fs.mae_classifier(classes=5, patch=4, dim=16, heads=4, mlp=32, encoder_depth=2), x,
                 ["--arch", "mae-classifier", "--heads", "4"])


if __name__ == "__main__":
    main()
