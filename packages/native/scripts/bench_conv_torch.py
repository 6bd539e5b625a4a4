#!/usr/bin/env python3
"""PyTorch counterpart of bench-conv.mjs: the same CIFAR ResNet-18 (or, with --model small-resnet, demo small-ResNet) conv shapes, channels-last,
2 threads, forward / backward-data / backward-weights, best of --reps runs; --precision bf16 runs
them on bfloat16 tensors (what autocast hands the convolutions)."""
import argparse
import time

import torch

p = argparse.ArgumentParser()
p.add_argument("--model", choices=["resnet18-cifar", "small-resnet"], default="resnet18-cifar")
p.add_argument("--batch", type=int, default=None, help="default 128 (resnet18-cifar) or 512 (small-resnet)")
p.add_argument("--reps", type=int, default=5)
p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
a = p.parse_args()
if a.batch is None:
    a.batch = 512 if a.model == "small-resnet" else 128
torch.set_num_threads(2)
layers = [(32, 3, 64, 3, 1), (32, 64, 64, 3, 1), (32, 64, 128, 3, 2), (16, 128, 128, 3, 1), (32, 64, 128, 1, 2),
          (16, 128, 256, 3, 2), (8, 256, 256, 3, 1), (16, 128, 256, 1, 2), (8, 256, 512, 3, 2), (4, 512, 512, 3, 1),
          (8, 256, 512, 1, 2)]
if a.model == "small-resnet":  # the demo's small ResNet (width 16, stride-2 stem) on 28x28x1, 256 x 2 views
    layers = [(28, 1, 16, 3, 2), (14, 16, 16, 3, 1), (14, 16, 32, 3, 2), (7, 32, 32, 3, 1), (14, 16, 32, 1, 2),
              (7, 32, 64, 3, 2), (4, 64, 64, 3, 1), (7, 32, 64, 1, 2)]


def best(fn):
    fn()
    t = float("inf")
    for _ in range(a.reps):
        s = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - s)
    return t * 1000


total = flop = 0.0
print(f"pytorch {torch.__version__} conv ({a.precision}), batch {a.batch}, best of {a.reps} (ms and GFLOP/s)")
for size, cin, cout, k, stride in layers:
    cl = torch.channels_last
    dtype = torch.bfloat16 if a.precision == "bf16" else torch.float32
    x = torch.randn(a.batch, cin, size, size).to(dtype).contiguous(memory_format=cl)
    w = torch.randn(cout, cin, k, k).to(dtype).contiguous(memory_format=cl)
    pad = k // 2
    y = torch.nn.functional.conv2d(x, w, None, stride, pad)
    out = y.shape[2]
    gflop = 2 * a.batch * out * out * cout * cin * k * k / 1e9
    bwd = torch.ops.aten.convolution_backward
    fwd_ms = best(lambda: torch.nn.functional.conv2d(x, w, None, stride, pad))
    data_ms = best(lambda: bwd(y, x, w, None, [stride] * 2, [pad] * 2, [1, 1], False, [0, 0], 1, [True, False, False]))
    wei_ms = best(lambda: bwd(y, x, w, None, [stride] * 2, [pad] * 2, [1, 1], False, [0, 0], 1, [False, True, False]))
    g = lambda ms: f"{ms:7.1f} ms {gflop / (ms / 1000):4.0f}"
    print(f"{f'{size}x{size} {cin}->{cout} k{k} s{stride}':<26} fwd {g(fwd_ms)}  bwd-data {g(data_ms)}  bwd-weights {g(wei_ms)}")
    total += fwd_ms + data_ms + wei_ms
    flop += 3 * gflop
print(f"all listed layers once: {total:.0f} ms, {flop / (total / 1000):.0f} GFLOP/s")
