#!/usr/bin/env python3
"""The PyTorch baseline of `supcon bench step`: one full SupCon training step of a CIFAR ResNet-18.

Same model (3x3 stem, no max-pool, BasicBlocks 64-128-256-512, global average pool), the same
MLP projection head to 128, L2 normalisation, the SupCon loss (temperature 0.1, base temperature
0.1, contrast mode 'all'), backward, and an SGD-momentum update (lr 0.05, momentum 0.9, no weight
decay), on N*V random 32x32x3 images. Channels-last memory format and 2 threads, PyTorch's fastest
CPU configuration here. Prints the median milliseconds per step after warm-up.

Run with Debian's PyTorch: /usr/bin/python3 reference/torch_step.py --batch-size 64 --views 2 --json
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


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--views", type=int, default=2)
    p.add_argument("--steps", type=int, default=7, help="timed steps (median reported)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--profile", action="store_true", help="add a per-operator breakdown of one step")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    n, v = a.batch_size, a.views
    model = SupConResNet18().to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    images = torch.rand(n * v, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, a.classes, (n,))

    def step():
        opt.zero_grad(set_to_none=True)
        z = model(images)  # [V*N, 128], view-major
        loss = supcon_loss(z.view(v, n, -1).transpose(0, 1), labels)
        loss.backward()
        opt.step()
        return loss.item()

    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        step()
        if i >= a.warmup:
            times.append((time.perf_counter() - t0) * 1000)
    ms = statistics.median(times)
    result = {
        "impl": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batchSize": n,
        "views": v,
        "msPerStep": ms,
        "imagesPerSec": n * v * 1000 / ms,
        "msAll": [round(t, 1) for t in times],
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
        print(f"pytorch {torch.__version__}: {ms:.1f} ms/step, {result['imagesPerSec']:.0f} images/s ({n}x{v})")
        for k in result.get("kernels", []):
            print(f"  {k['name']:<40} {k['ms']:9.2f} ms  x{k['calls']}")


if __name__ == "__main__":
    main()
