#!/usr/bin/python3
"""Reference for supcon's cross-entropy with label smoothing (packages/supcon/src/train/loss.ts,
methodLoss('ce', ...)): torch.nn.functional.cross_entropy(logits, target, label_smoothing=eps) in
float64, its value and its gradient with respect to the logits.

The logits are the classifier's output for B = 3 samples of V = 2 views in sample-major order
[B*V, C] (C = 5), as the trainer hands them to methodLoss; the target of row b*V + v is label b.
Usage: /usr/bin/python3 reference/make_ce_fixture.py  (writes packages/supcon/test/fixtures/ce-label-smoothing.json)
"""
import json
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(__file__), '..', 'packages', 'supcon', 'test', 'fixtures', 'ce-label-smoothing.json')
B, V, C = 3, 2, 5


def main():
    g = torch.Generator().manual_seed(7)
    logits = (3 * torch.randn(B * V, C, generator=g, dtype=torch.float64)).round(decimals=6)
    labels = [4, 0, 2]
    target = torch.tensor(labels).repeat_interleave(V)
    cases = []
    for eps in [0.0, 0.1, 0.25, 0.9]:
        x = logits.clone().requires_grad_(True)
        loss = F.cross_entropy(x, target, label_smoothing=eps)
        loss.backward()
        cases.append({'labelSmoothing': eps, 'loss': float(loss), 'grad': [float(v) for v in x.grad.reshape(-1)]})
    with open(OUT, 'w') as f:
        json.dump({'generatedBy': 'reference/make_ce_fixture.py', 'torch': torch.__version__, 'views': V,
                   'shape': [B * V, C], 'logits': [float(v) for v in logits.reshape(-1)], 'labels': labels,
                   'cases': cases}, f, indent=1)
        f.write('\n')
    print([(c['labelSmoothing'], c['loss']) for c in cases])


if __name__ == '__main__':
    main()
