#!/usr/bin/env python3
"""fastshap's networks in PyTorch, importable: the same parameter names, tensor layouts and
forward passes as the Rust models in src/models/, so a network trained here loads in fastshap
(and the other way round). The parity fixtures (tools/torch_fixtures.py) are made from these
classes, and tests/parity.rs checks the Rust models against them.

Train in PyTorch, explain with fastshap:

    import sys; sys.path.insert(0, "tools")
    import fastshap_torch as fs
    model = fs.resnet18(classes=10)      # or fs.vit(heads=12), fs.ViT-sized configs, ...
    # ... train on CIFAR-10 images normalised with fs.MEAN / fs.STD (x/255 - mean) / std ...
    fs.export(model, "resnet.safetensors")   # weights + fastshap.arch / fastshap.config
    # fastshap eval --model resnet.safetensors --data cifar-10-batches-bin

A plain `safetensors.torch.save_file(model.state_dict(), path)` works too: then tell fastshap
the architecture (`--arch resnet18|vit|mae-classifier`, and `--heads N` for the transformers);
everything else is read from the tensors' shapes. Inputs are 32x32 RGB images normalised
with MEAN/STD, channels first, exactly as fastshap feeds them.
"""
import json
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# CIFAR-10 channel statistics fastshap normalises with (src/data/mod.rs).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


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
        self.fastshap_arch = "resnet"
        self.fastshap_config = {"in_channels": in_channels, "classes": classes, "widths": list(widths), "blocks": list(blocks)}
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
        self.fastshap_arch = "vit"
        self.fastshap_config = {"in_channels": in_channels, "classes": classes, "image": image, "patch": patch,
                                "dim": dim, "mlp": mlp, "heads": heads, "depth": depth}
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
def mae_config(c):
    """The full MaeConfig fastshap records (decoder fields default to the paper's MAE)."""
    full = {"in_channels": 3, "image": 32, "decoder_depth": 4, "mask_ratio": 0.75}
    full.update(c)
    return {k: full[k] for k in ("in_channels", "image", "patch", "dim", "heads", "mlp", "encoder_depth", "decoder_depth", "mask_ratio")}


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
        self.fastshap_arch, self.fastshap_config = "mae", mae_config(c)
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
        idx = torch.cat([torch.zeros(b, 1, dtype=torch.long, device=img.device), inverse + 1], 1)
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
        self.fastshap_arch = "mae-classifier"
        self.fastshap_config = {"encoder": mae_config(c), "classes": classes}
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


# ---- the paper's sizes ----
def resnet18(classes=10, in_channels=3, widths=(64, 128, 256, 512), blocks=(2, 2, 2, 2)):
    """The CIFAR ResNet18 (kuangliu/pytorch-cifar); narrower widths for quick experiments."""
    return ResNet(in_channels, classes, list(widths), list(blocks))


def vit(classes=10, in_channels=3, image=32, patch=4, dim=384, mlp=384, heads=12, depth=7):
    """The paper's ViT (omihub777/ViT-CIFAR): 4x4 patches, 7 blocks of width 384, 12 heads."""
    return Vit(in_channels, classes, image, patch, dim, mlp, heads, depth)


def mae_classifier(classes=10, **encoder):
    """An MAE encoder with a linear head on the CLS token (IcarusWizard/MAE ViT_Classifier);
    defaults: the paper's ViT-Tiny encoder (2x2 patches, width 192, 12 blocks, 3 heads)."""
    c = {"patch": 2, "dim": 192, "heads": 3, "mlp": 768, "encoder_depth": 12}
    c.update(encoder)
    return MaeClassifier(mae_config(c), classes)


# ---- checkpoints ----
def state_dict(model):
    """The tensors fastshap stores: float32, contiguous, without BatchNorm's step counter."""
    return {k: v.detach().float().contiguous() for k, v in model.state_dict().items()
            if not k.endswith("num_batches_tracked")}


def export(model, path):
    """Writes `model` (one of this module's networks) as a fastshap checkpoint: the weights under
    their PyTorch names plus `fastshap.arch` / `fastshap.config`, so no --arch is needed."""
    from safetensors.torch import save_file
    arch = getattr(model, "fastshap_arch", None)
    if arch is None:
        raise ValueError(f"{type(model).__name__} is not a fastshap_torch network; build it with "
                         "resnet18(), vit() or mae_classifier(), or save its state_dict and pass --arch")
    meta = {"fastshap.arch": arch, "fastshap.config": json.dumps(model.fastshap_config)}
    save_file(state_dict(model), str(path), metadata=meta)


def from_config(arch, config):
    """A freshly initialised network for `fastshap.arch` / `fastshap.config`."""
    if arch == "resnet":
        return ResNet(config["in_channels"], config["classes"], config["widths"], config["blocks"])
    if arch == "vit":
        return Vit(**config)
    if arch == "mae":
        return Mae(config)
    if arch == "mae-classifier":
        return MaeClassifier(config["encoder"], config["classes"])
    raise ValueError(f"unknown fastshap.arch {arch!r}")


def load(path):
    """A fastshap checkpoint (from `fastshap train` or export) as a PyTorch network, in eval mode."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    with safe_open(str(path), "pt") as f:
        meta = f.metadata() or {}
    if "fastshap.arch" not in meta:
        raise ValueError(f"{path} has no fastshap.arch metadata; build the network yourself and load_state_dict")
    model = from_config(meta["fastshap.arch"], json.loads(meta["fastshap.config"]))
    missing, unexpected = model.load_state_dict(load_file(str(path)), strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{path}: missing {missing}, unexpected {unexpected}")
    return model.eval()
