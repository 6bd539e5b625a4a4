#!/usr/bin/python3
"""Reference for supcon's gradient clipping by global norm (packages/supcon/src/optim/clip.ts):
torch.nn.utils.clip_grad_norm_ (PyTorch 1.13, L2) on fixed gradients, in float64.

Cases: gradients of three parameters (a kernel, a bias, a [T, D] embedding) with a max norm below
their global norm (clipped), one just above it and one far above it (no-op); for each the norm that
clip_grad_norm_ returns and the gradients it leaves. Then three AdamW steps (torch.optim.AdamW,
weight decay 0.05) with clipping at 1.0 before each, on gradients whose norms are above, below and
above the threshold, so the whole optimiser path is checked.
Usage: /usr/bin/python3 reference/make_clip_fixture.py  (writes packages/supcon/test/fixtures/clip-grad-norm.json)
"""
import json
import os

import torch

OUT = os.path.join(os.path.dirname(__file__), '..', 'packages', 'supcon', 'test', 'fixtures', 'clip-grad-norm.json')
SHAPES = {'dense/kernel': [4, 3], 'dense/bias': [3], 'pos_embed': [5, 2]}
flat = lambda t: [float(x) for x in t.reshape(-1)]


def tensors(g, scale=1.0):
    return {k: scale * torch.randn(*s, generator=g, dtype=torch.float64) for k, s in SHAPES.items()}


def clip(grads, max_norm):
    ps = {k: torch.nn.Parameter(torch.zeros_like(v)) for k, v in grads.items()}
    for k, p in ps.items():
        p.grad = grads[k].clone()
    norm = torch.nn.utils.clip_grad_norm_(list(ps.values()), max_norm)
    return float(norm), {k: flat(p.grad) for k, p in ps.items()}


def main():
    g = torch.Generator().manual_seed(13)
    grads = tensors(g)
    total = float(torch.sqrt(sum((v ** 2).sum() for v in grads.values())))
    cases = []
    for name, max_norm in [('clipped', 0.25 * total), ('just-above', total * 1.001), ('no-op', 100.0)]:
        norm, clipped = clip(grads, max_norm)
        cases.append({'name': name, 'maxNorm': max_norm, 'norm': norm, 'clipped': clipped})

    params = tensors(g)
    steps = [tensors(g, 3.0), tensors(g, 0.05), tensors(g, 2.0)]
    lr, max_norm = 0.01, 1.0
    ps = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
    opt = torch.optim.AdamW(list(ps.values()), lr=lr, weight_decay=0.05)
    history, norms = [], []
    for grads_s in steps:
        for k, p in ps.items():
            p.grad = grads_s[k].clone()
        norms.append(float(torch.nn.utils.clip_grad_norm_(list(ps.values()), max_norm)))
        opt.step()
        history.append({k: flat(p.detach()) for k, p in ps.items()})
    adamw = {
        'lr': lr,
        'maxNorm': max_norm,
        'weightDecay': 0.05,
        'params': {k: flat(v) for k, v in params.items()},
        'grads': [{k: flat(v) for k, v in s.items()} for s in steps],
        'norms': norms,
        'expected': history,
    }
    with open(OUT, 'w') as f:
        json.dump({'generatedBy': 'reference/make_clip_fixture.py', 'torch': torch.__version__, 'shapes': SHAPES,
                   'grads': {k: flat(v) for k, v in grads.items()}, 'cases': cases, 'adamw': adamw}, f, indent=1)
        f.write('\n')
    print('norm', total, 'adamw norms', norms)


if __name__ == '__main__':
    main()
