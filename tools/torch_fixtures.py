#!/usr/bin/env python3
"""PyTorch parity fixtures for fastshap's models.

Builds each network in PyTorch at a reduced width with a fixed seed, with exactly the parameter
names and layouts fastshap uses, and writes one safetensors file per network into
tests/fixtures/torch/: the weights (`p.<name>`), a fixed input batch, the outputs in train and
eval mode, and the gradients of loss = Σ out ⊙ R with respect to the input and every parameter
(`g.<name>`). The Rust test `tests/parity.rs` loads each file and compares.

Run (PyTorch on CPU, in a virtualenv outside the repo):
    python tools/torch_fixtures.py
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "torch")


# ---- ResNet18, CIFAR variant (kuangliu) ----
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, in_channels, classes, widths, blocks):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for s, (w, n) in enumerate(zip(widths, blocks)):
            layers = []
            for i in range(n):
                layers.append(BasicBlock(cin, w, (1 if s == 0 else 2) if i == 0 else 1))
                cin = w
            setattr(self, f"layer{s + 1}", nn.Sequential(*layers))
        self.linear = nn.Linear(cin, classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        for s in range(4):
            out = getattr(self, f"layer{s + 1}")(out)
        out = F.avg_pool2d(out, 4)
        return self.linear(out.flatten(1))


# ---- transformer parts ----
class Attention(nn.Module):
    def __init__(self, dim, heads, fused):
        super().__init__()
        self.heads, self.fused = heads, fused
        if fused:
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)
        else:
            self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x):
        b, t, d = x.shape
        h, dh = self.heads, d // self.heads
        if self.fused:
            q, k, v = self.qkv(x).reshape(b, t, 3, h, dh).permute(2, 0, 3, 1, 4)
        else:
            q, k, v = (l(x).reshape(b, t, h, dh).permute(0, 2, 1, 3) for l in (self.q, self.k, self.v))
        att = (q @ k.transpose(-2, -1) / math.sqrt(dh)).softmax(-1)
        o = (att @ v).permute(0, 2, 1, 3).reshape(b, t, d)
        return self.proj(o) if self.fused else self.o(o)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp, fused):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn, self.mlp = Attention(dim, heads, fused), Mlp(dim, mlp)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def patchify(x, p):
    """[B,C,H,W] → [B, (H/p)(W/p), p·p·C] in (p, p, C) order (omihub777 / MAE)."""
    b, c, hh, ww = x.shape
    out = x.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 3, 4, 5, 1)
    return out.reshape(b, (hh // p) * (ww // p), -1)


class Vit(nn.Module):
    def __init__(self, in_channels, classes, image, patch, dim, mlp, heads, depth):
        super().__init__()
        self.patch, self.dim = patch, dim
        self.emb = nn.Linear(patch * patch * in_channels, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_emb = nn.Parameter(torch.randn(1, (image // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp, False) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        t = self.emb(patchify(x, self.patch))
        h = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), t], 1) + self.pos_emb
        return self.head(self.norm(self.blocks(h))[:, 0])


# ---- MAE (IcarusWizard/MAE layout) ----
class MaeEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        n = (c["image"] // c["patch"]) ** 2
        self.cls_token = nn.Parameter(torch.randn(1, 1, c["dim"]) * 0.02)
        self.pos_embedding = nn.Parameter(torch.randn(n, 1, c["dim"]) * 0.02)
        self.patchify = nn.Conv2d(c["in_channels"], c["dim"], c["patch"], c["patch"])
        self.transformer = nn.Sequential(*[Block(c["dim"], c["heads"], c["mlp"], True) for _ in range(c["encoder_depth"])])
        self.layer_norm = nn.LayerNorm(c["dim"])

    def tokens(self, img):
        x = self.patchify(img).flatten(2).transpose(1, 2)  # [B, n, d]
        return x + self.pos_embedding.transpose(0, 1)

    def encode(self, tokens):
        h = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], 1)
        return self.layer_norm(self.transformer(h))


class MaeDecoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        n = (c["image"] // c["patch"]) ** 2
        self.mask_token = nn.Parameter(torch.randn(1, 1, c["dim"]) * 0.02)
        self.pos_embedding = nn.Parameter(torch.randn(n + 1, 1, c["dim"]) * 0.02)
        self.transformer = nn.Sequential(*[Block(c["dim"], c["heads"], c["mlp"], True) for _ in range(c["decoder_depth"])])
        self.head = nn.Linear(c["dim"], c["in_channels"] * c["patch"] ** 2)


class Mae(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.encoder, self.decoder = MaeEncoder(c), MaeDecoder(c)

    def forward(self, img, shuffles):
        c = self.c
        b, n, d = img.shape[0], (c["image"] // c["patch"]) ** 2, c["dim"]
        kept = int(n * (1 - c["mask_ratio"]))
        tokens = self.encoder.tokens(img)
        vis = shuffles[:, :kept]
        tokens = torch.gather(tokens, 1, vis[:, :, None].expand(-1, -1, d))
        feats = self.encoder.encode(tokens)
        h = torch.cat([feats, self.decoder.mask_token.expand(b, n - kept, -1)], 1)
        inverse = torch.argsort(shuffles, 1)
        idx = torch.cat([torch.zeros(b, 1, dtype=torch.long), inverse + 1], 1)
        h = torch.gather(h, 1, idx[:, :, None].expand(-1, -1, d)) + self.decoder.pos_embedding.transpose(0, 1)
        h = self.decoder.transformer(h)
        pred = self.decoder.head(h[:, 1:])
        mask = (inverse >= kept).float()
        p = c["patch"]
        # target patches in (C, p, p) order, as the MAE's patch2img rearrange implies
        target = img.unfold(2, p, p).unfold(3, p, p).permute(0, 2, 3, 1, 4, 5).reshape(b, n, -1)
        loss = ((pred - target) ** 2 * mask[:, :, None]).mean() / c["mask_ratio"]
        return pred, loss


class MaeClassifier(nn.Module):
    def __init__(self, c, classes):
        super().__init__()
        e = MaeEncoder(c)
        self.cls_token, self.pos_embedding, self.patchify = e.cls_token, e.pos_embedding, e.patchify
        self.transformer, self.layer_norm = e.transformer, e.layer_norm
        self.head = nn.Linear(c["dim"], classes)

    def forward(self, img):
        x = self.patchify(img).flatten(2).transpose(1, 2) + self.pos_embedding.transpose(0, 1)
        h = torch.cat([self.cls_token.expand(img.shape[0], -1, -1), x], 1)
        return self.head(self.layer_norm(self.transformer(h))[:, 0])


# ---- UNet explainer (iancovert/fastshap) ----
def multi_conv(cin, cout, mid, convs):
    layers = [nn.Conv2d(cin, mid, 3, padding=1), nn.BatchNorm2d(mid), nn.ReLU()]
    c = mid
    for _ in range(convs - 1):
        layers += [nn.Conv2d(c, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]
        c = cout
    return nn.Sequential(*layers)


class Wrap(nn.Module):
    def __init__(self, conv):
        super().__init__()
        self.conv = conv


class UNet(nn.Module):
    def __init__(self, in_channels, classes, base, convs, superpixel):
        super().__init__()
        b = base
        self.inc = Wrap(multi_conv(in_channels, b, b, convs))
        self.down1 = Wrap(multi_conv(b, 2 * b, 2 * b, convs))
        self.down2 = Wrap(multi_conv(2 * b, 2 * b, 2 * b, convs))
        self.up = Wrap(multi_conv(4 * b, 2 * b, 2 * b, convs))
        self.outc = nn.Conv2d(2 * b, classes, 1)
        self.k = superpixel // 2

    def forward(self, x):
        x1 = self.inc.conv(x)
        x2 = self.down1.conv(F.max_pool2d(x1, 2))
        x3 = self.down2.conv(F.max_pool2d(x2, 2))
        u = F.interpolate(x3, scale_factor=2, mode="bilinear", align_corners=True)
        out = self.outc(self.up.conv(torch.cat([x2, u], 1)))
        return out if self.k == 1 else F.avg_pool2d(out, self.k)


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


if __name__ == "__main__":
    main()
