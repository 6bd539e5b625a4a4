#!/usr/bin/env python3
"""The PyTorch baseline of `supcon bench step`: one full SupCon training step, timed.

Models (--model):
  resnet18-cifar: CIFAR ResNet-18 (3x3 stem, no max-pool, BasicBlocks 64-128-256-512, global
    average pool) and the MLP projection head 512 -> 512 -> 128, on 32x32x3 images;
  small-resnet: supcon's smallResNet (packages/supcon/src/models/small.ts) as the demo builds it:
    a 3x3 stem of stride --stem-stride, three stages of --blocks-per-stage BasicBlocks of widths
    w, 2w, 4w (strides 1, 2, 2; w = --width), global average pool, and the MLP head
    4w -> 4w -> --projection-dim, on 28x28x1 images;
  vit-tiny, vit-mini: supcon's ViT (packages/supcon/src/models/vit.ts) with the sizes given as flags
    (--patch, --dim, --depth, --heads, --mlp-ratio, --pool, --gelu; supcon passes the preset's, and a
    flag left out takes the named preset's value from VIT_DEFAULTS below): patch embedding
    (a conv with bias, kernel = stride = patch), class token, learned position embeddings, pre-norm
    blocks (LayerNorm eps 1e-6 -> multi-head self-attention -> residual -> LayerNorm -> MLP with
    GELU -> residual), final LayerNorm, the class token's row (or the mean of the tokens), and the
    MLP head dim -> dim -> --projection-dim, on 28x28x1 images.
Then L2 normalisation, the SupCon loss (contrast mode 'all', base temperature = temperature),
backward, and an SGD-momentum update with L2 weight decay on weights of rank >= 2 only (BatchNorm
and biases excluded, as supcon's optimiser factory does). `supcon bench step --compare-torch`
passes the model and optimiser numbers as flags, so both sides build the same thing; the trainable
parameter count is printed so the caller can check.

Channels-last memory format and 2 threads, PyTorch's fastest CPU configuration here. With
--precision bf16 the forward runs under torch.autocast('cpu', dtype=torch.bfloat16) and the
normalised features are cast to float32 before the loss, so the loss runs in fp32.
Prints the median milliseconds per step after warm-up, and the peak resident memory (ru_maxrss).

Run with Debian's PyTorch:
  /usr/bin/python3 reference/torch_step.py --batch-size 64 --views 2 --json
  /usr/bin/python3 reference/torch_step.py --model small-resnet --precision bf16 --json
  /usr/bin/python3 reference/torch_step.py --model vit-tiny --batch-size 32 --json
  /usr/bin/python3 reference/torch_step.py --model vit-mini --json
"""
import argparse
import json
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


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


class SupConResNet18(nn.Module):
    def __init__(self, feat_dim=128):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for width, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [BasicBlock(cin, width, stride), BasicBlock(width, width, 1)]
            cin = width
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(512, 512), nn.ReLU(inplace=True), nn.Linear(512, feat_dim))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        features = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # [B, 512]
        return F.normalize(self.head(features), dim=1)  # [B, 128]


class SmallResNet(nn.Module):
    """supcon's smallResNet with its MLP projection head: features [B, 4w], embeddings [B, feat_dim]."""

    def __init__(self, channels=1, width=16, blocks_per_stage=1, stem_stride=2, feat_dim=128):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 3, stem_stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        layers, cin = [], width
        for stage, stride in enumerate([1, 2, 2]):
            cout = width * 2**stage
            for b in range(blocks_per_stage):
                layers.append(BasicBlock(cin, cout, stride if b == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(cin, cin), nn.ReLU(inplace=True), nn.Linear(cin, feat_dim))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))  # [B, w, 28/s, 28/s]
        x = self.layers(x)  # [B, 4w, H/4, W/4]
        features = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # [B, 4w]
        return F.normalize(self.head(features), dim=1)  # [B, feat_dim]


class VitBlock(nn.Module):
    """x += MSA(LN(x)); x += fc2(GELU(fc1(LN(x)))); tokens [B, T, D]."""

    def __init__(self, dim, heads, hidden, gelu):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)  # columns q | k | v, as supcon's
        self.proj = nn.Linear(dim, dim)
        self.ln2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.gelu = gelu

    def forward(self, x):
        b, t, dim = x.shape
        d = dim // self.heads
        qkv = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d).permute(2, 0, 3, 1, 4)  # [3, B, H, T, d]
        q, k, v = qkv.unbind(0)  # each [B, H, T, d]
        weights = torch.softmax(q @ k.transpose(-2, -1) / d**0.5, dim=-1)  # [B, H, T, T]
        attended = (weights @ v).transpose(1, 2).reshape(b, t, dim)  # [B, T, D]
        x = x + self.proj(attended)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate=self.gelu))  # [B, T, D]


class Vit(nn.Module):
    """supcon's ViT with its MLP projection head: features [B, dim], embeddings [B, feat_dim]."""

    def __init__(self, a, channels=1, side=28):
        super().__init__()
        self.pool = a.pool
        tokens = (side // a.patch) ** 2 + (1 if a.pool == "cls" else 0)
        self.patch_embed = nn.Conv2d(channels, a.dim, a.patch, a.patch)
        self.cls_token = nn.Parameter(torch.randn(a.dim) * 0.02) if a.pool == "cls" else None  # [D]
        self.pos_embed = nn.Parameter(torch.randn(tokens, a.dim) * 0.02)  # [T, D]
        hidden = int(a.mlp_ratio * a.dim)
        self.blocks = nn.Sequential(*[VitBlock(a.dim, a.heads, hidden, a.gelu) for _ in range(a.depth)])
        self.norm = nn.LayerNorm(a.dim, eps=1e-6)
        self.head = nn.Sequential(nn.Linear(a.dim, a.dim), nn.ReLU(inplace=True), nn.Linear(a.dim, a.projection_dim))

    def forward(self, x):
        x = self.patch_embed(x).flatten(2).transpose(1, 2)  # [B, N, D]
        if self.cls_token is not None:
            x = torch.cat([self.cls_token.expand(x.shape[0], 1, -1), x], dim=1)  # [B, N + 1, D]
        x = self.norm(self.blocks(x + self.pos_embed))  # [B, T, D]
        features = x[:, 0] if self.cls_token is not None else x.mean(dim=1)  # [B, D]
        return F.normalize(self.head(features), dim=1)  # [B, feat_dim]


def supcon_loss(features, labels, temperature=0.1, base_temperature=0.1):
    """SupCon (Khosla et al. 2020), contrast mode 'all'; features [N, V, D], labels [N]."""
    n, v = features.shape[:2]
    mask = torch.eq(labels.view(-1, 1), labels.view(1, -1)).float().repeat(v, v)  # [VN, VN]
    contrast = torch.cat(torch.unbind(features, dim=1), dim=0)  # [VN, D], view-major
    logits = contrast @ contrast.T / temperature  # [VN, VN]
    logits = logits - logits.max(dim=1, keepdim=True)[0].detach()
    not_self = 1 - torch.eye(n * v)
    mask = mask * not_self
    log_prob = logits - torch.log((torch.exp(logits) * not_self).sum(1, keepdim=True))
    mean_log_prob_pos = (mask * log_prob).sum(1) / mask.sum(1)
    return -(temperature / base_temperature) * mean_log_prob_pos.mean()


MODELS = {
    # name: (image [C, H, W], default batch)
    "resnet18-cifar": ((3, 32, 32), 64),
    "small-resnet": ((1, 28, 28), 256),
    "vit-tiny": ((1, 28, 28), 256),
    "vit-mini": ((1, 28, 28), 256),
}

# The ViT flags' values when left out: supcon's VIT_PRESETS (vit.ts). `supcon bench step` passes
# them explicitly; these only make `--model vit-mini` alone build vit-mini (the CLI test checks
# the parameter count both ways).
VIT_DEFAULTS = {
    "vit-tiny": dict(patch=4, dim=192, depth=6, heads=3, mlp_ratio=4, pool="cls", gelu="none"),
    "vit-mini": dict(patch=7, dim=64, depth=4, heads=2, mlp_ratio=2, pool="mean", gelu="tanh"),
}


def build_model(a):
    if a.model == "resnet18-cifar":
        return SupConResNet18(feat_dim=a.projection_dim)
    if a.model in VIT_DEFAULTS:
        return Vit(a)
    return SmallResNet(1, a.width, a.blocks_per_stage, a.stem_stride, a.projection_dim)


def at_least(low):
    def parse(text):
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an integer >= {low}, received {text}")
        return value

    return parse


positive = at_least(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", choices=sorted(MODELS), default="resnet18-cifar")
    p.add_argument("--batch-size", type=positive, help="samples per step (default 64, small-resnet 256)")
    p.add_argument("--views", type=positive, default=2)
    p.add_argument("--steps", type=positive, default=7, help="timed steps (median reported)")
    p.add_argument("--warmup", type=at_least(0), default=2)
    p.add_argument("--threads", type=positive, default=2)
    p.add_argument("--classes", type=positive, default=10)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=0.0, help="on weights of rank >= 2 only")
    p.add_argument("--temperature", type=float, default=0.1)
    p.add_argument("--width", type=positive, default=16, help="small-resnet: first-stage width")
    p.add_argument("--blocks-per-stage", type=positive, default=1, help="small-resnet")
    p.add_argument("--stem-stride", type=int, choices=[1, 2], default=2, help="small-resnet")
    p.add_argument("--projection-dim", type=positive, default=128)
    vit = "ViT models (default: the preset's)"
    p.add_argument("--patch", type=positive, help=vit)
    p.add_argument("--dim", type=positive, help=vit)
    p.add_argument("--depth", type=positive, help=vit)
    p.add_argument("--heads", type=positive, help=vit)
    p.add_argument("--mlp-ratio", type=float, help=vit)
    p.add_argument("--pool", choices=["cls", "mean"], help=vit)
    p.add_argument("--gelu", choices=["none", "tanh"], help=vit)
    p.add_argument("--params-only", action="store_true", help="print the trainable parameter count only")
    p.add_argument("--profile", action="store_true", help="add a per-operator breakdown of one step")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    for key, value in VIT_DEFAULTS.get(a.model, {}).items():
        if getattr(a, key) is None:
            setattr(a, key, value)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    (c, h, w), default_batch = MODELS[a.model]
    n, v = a.batch_size or default_batch, a.views
    model = build_model(a).to(memory_format=torch.channels_last)
    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if a.params_only:
        print(json.dumps({"model": a.model, "params": params}) if a.json else params)
        return
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]
    groups = [{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    opt = torch.optim.SGD(groups, lr=a.lr, momentum=a.momentum)
    images = torch.rand(n * v, c, h, w).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, a.classes, (n,))
    bf16 = a.precision == "bf16"

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            z = model(images)  # [V*N, D], view-major; bf16 under autocast
        z = z.float()  # the loss in fp32, outside autocast
        loss = supcon_loss(z.view(v, n, -1).transpose(0, 1), labels, a.temperature, a.temperature)
        loss.backward()
        opt.step()
        return loss.item()

    times, losses = [], []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        losses.append(step())
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    result = {
        "impl": "pytorch",
        "torch": torch.__version__,
        "model": a.model,
        "precision": a.precision,
        "threads": torch.get_num_threads(),
        "params": params,
        "batchSize": n,
        "views": v,
        "msPerStep": ms,
        "imagesPerSec": n * v * 1000 / ms,
        "msAll": [round(t, 1) for t in times],
        "losses": [round(x, 4) for x in losses],
        "peakRssMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    if a.profile:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            step()
        rows = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        result["kernels"] = [
            {"name": e.key, "ms": round(e.self_cpu_time_total / 1000, 2), "calls": e.count} for e in rows[:30]
        ]
    if a.json:
        print(json.dumps(result))
    else:
        print(
            f"pytorch {torch.__version__} {a.model} ({a.precision}, {result['threads']} threads): "
            f"{ms:.1f} ms/step, {result['imagesPerSec']:.0f} images/s ({n}x{v}), peak RSS {result['peakRssMiB']} MiB"
        )
        for k in result.get("kernels", []):
            print(f"  {k['name']:<40} {k['ms']:9.2f} ms  x{k['calls']}")


if __name__ == "__main__":
    main()
