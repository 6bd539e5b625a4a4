#!/usr/bin/env python3
"""How far PyTorch's own CPU bf16 autocast lands from fp32 on one residual block.

The yardstick for the chained-kernel tolerance in packages/native/test/bf16.test.ts: conv -> BN+ReLU
-> conv -> BN + shortcut + ReLU on bf16-exact inputs, forward and backward, once under
torch.autocast('cpu', dtype=torch.bfloat16) and once in fp32; prints the relative L2 error
||bf16 - fp32|| / ||fp32|| of the output and of the gradients of x, w1, w2, gamma, beta.

Run with Debian's PyTorch: /usr/bin/python3 reference/bf16_block.py
"""
import json

import torch
import torch.nn.functional as F


def bf16_exact(t):
    return t.bfloat16().float()


def main():
    torch.manual_seed(0)
    x = bf16_exact(torch.rand(4, 16, 8, 8) * 2 - 1)
    w1 = bf16_exact((torch.rand(16, 16, 3, 3) * 2 - 1) * 0.3)
    w2 = bf16_exact((torch.rand(16, 16, 3, 3) * 2 - 1) * 0.3)
    gamma = bf16_exact(torch.rand(16) + 0.5)
    beta = bf16_exact(torch.rand(16) * 2 - 1)
    r = bf16_exact(torch.rand(4, 16, 8, 8) * 2 - 1)

    def run(autocast):
        leaves = [t.clone().requires_grad_(True) for t in (x, w1, w2, gamma, beta)]
        x0, k1, k2, g, b = leaves
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            h = F.relu(F.batch_norm(F.conv2d(x0, k1, padding=1), None, None, g, b, training=True))
            y = F.relu(F.batch_norm(F.conv2d(h, k2, padding=1), None, None, g, b, training=True) + x0)
        (y.float() * r).sum().backward()
        return [y.float()] + [t.grad for t in leaves]

    bf16, fp32 = run(True), run(False)
    names = ["y", "dx", "dw1", "dw2", "dgamma", "dbeta"]
    errors = {n: float((a - e).norm() / e.norm()) for n, a, e in zip(names, bf16, fp32)}
    print(json.dumps(errors))


if __name__ == "__main__":
    main()
