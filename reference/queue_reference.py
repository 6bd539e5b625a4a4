#!/usr/bin/python3
"""Independent float64 reference of the SupCon loss against a memory queue, and its fixtures.

The queue holds K feature rows from earlier steps (constants: no gradient) with their labels
(-1 = unlabelled, never a positive). The anchors are the batch rows (contrast mode 'all') or
view 0 of each sample ('one'); the contrast set of an anchor is every batch row but itself plus
every queue row. Positives: batch rows of the same label (with no labels: the sample's other
views) and queue rows with the same label. With an empty queue this is exactly the SupCon loss of
supcon_reference.py, which the self-check asserts.

    /usr/bin/python3 reference/queue_reference.py            # self-checks
    /usr/bin/python3 reference/queue_reference.py --write     # packages/supcon/test/fixtures/queue-cases.json

One anchor at a time in plain torch ops, float64; gradients by autograd with respect to the batch
features only.
"""

import json
import math
import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from supcon_reference import DTYPE, supcon_loss  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, 'packages', 'supcon', 'test', 'fixtures', 'queue-cases.json')


def queue_loss(features, labels, queue, queue_labels, temperature=0.1, base_temperature=None,
               contrast_mode='all', variant='out', zero_positives='exclude', reduction='mean'):
    """features [B, V, D]; labels [B] ints or None; queue [K, D]; queue_labels [K] ints (-1: none)."""
    if base_temperature is None:
        base_temperature = temperature
    B, V, D = features.shape
    N = B * V
    rows = features.transpose(0, 1).reshape(N, D)  # [N, D] view-major
    K = queue.shape[0]
    contrast = torch.cat([rows, queue.to(DTYPE)], 0)  # [N + K, D]
    sample = list(range(B)) * V  # sample of batch row r
    anchors = range(N) if contrast_mode == 'all' else range(B)
    losses, valid = [], 0
    for i in anchors:
        a = sample[i]
        pos = []
        for j in range(N):
            if j == i:
                continue
            same = (labels[a] == labels[sample[j]]) if labels is not None else (sample[j] == a)
            pos.append(bool(same))
        for k in range(K):
            pos.append(labels is not None and queue_labels[k] >= 0 and queue_labels[k] == labels[a])
        others = [j for j in range(N + K) if j != i]
        s = contrast[others] @ rows[i] / temperature  # [N + K - 1]
        p = torch.tensor(pos)
        if not p.any():
            losses.append(torch.zeros((), dtype=DTYPE))
            continue
        valid += 1
        log_den = torch.logsumexp(s, 0)
        if variant == 'out':
            li = -(s[p] - log_den).mean()
        else:
            li = -(torch.logsumexp(s[p], 0) - math.log(int(p.sum())) - log_den)
        losses.append(li * temperature / base_temperature)
    per = torch.stack(losses)
    if reduction == 'none':
        return per, valid
    if reduction == 'sum':
        return per.sum(), valid
    count = valid if zero_positives == 'exclude' else len(per)
    return (per.sum() / count if count > 0 else per.sum() * 0), valid


def unit(gen, shape):
    x = torch.randn(*shape, dtype=DTYPE, generator=gen)
    return x / x.norm(dim=-1, keepdim=True)


def r10(t):
    return torch.tensor([float(f'{v:.10g}') for v in t.reshape(-1).tolist()], dtype=DTYPE).reshape(t.shape)


def self_check():
    gen = torch.Generator().manual_seed(5)
    checked = 0
    for B, V, D in [(4, 2, 5), (6, 1, 3), (3, 3, 4)]:
        f = unit(gen, (B, V, D))
        labels = [int(x) for x in torch.randint(0, 3, (B,), generator=gen)]
        for lab in (labels, None):
            for mode in ('all', 'one'):
                for variant in ('out', 'in'):
                    for red in ('mean', 'sum', 'none'):
                        got, _ = queue_loss(f, lab, torch.zeros(0, D, dtype=DTYPE), [], 0.3, 0.07, mode,
                                            variant, 'exclude', red)
                        want, _ = supcon_loss(f, labels=lab, temperature=0.3, base_temperature=0.07,
                                              contrast_mode=mode, variant=variant, reduction=red)
                        if not torch.allclose(got, want, rtol=1e-12, atol=1e-12):
                            raise AssertionError(f'empty queue differs from supcon_loss: {B},{V},{lab},{mode},{variant},{red}')
                        checked += 1
    print(f'empty queue equals supcon_loss in {checked} configurations')


def make_cases():
    rnd = random.Random(20261128)
    gen = torch.Generator().manual_seed(20261128)
    cases = []
    configs = []
    for B, V, D, K in [(4, 2, 6, 5), (6, 2, 8, 12), (5, 1, 4, 7), (3, 3, 5, 4), (8, 2, 16, 32), (4, 2, 6, 0)]:
        for labelled in (True, False):
            for mode in ('all', 'one'):
                for variant in ('out', 'in'):
                    configs.append((B, V, D, K, labelled, mode, variant))
    for n, (B, V, D, K, labelled, mode, variant) in enumerate(configs):
        classes = rnd.choice([2, 3, 5])
        labels = [rnd.randrange(classes) for _ in range(B)] if labelled else None
        qlabels = [rnd.randrange(-1, classes) for _ in range(K)]
        feats = r10(unit(gen, (B, V, D))).requires_grad_(True)
        queue = r10(unit(gen, (K, D)))
        temperature = rnd.choice([0.07, 0.1, 0.5, 1.0])
        base = rnd.choice([None, 0.07])
        reduction = rnd.choice(['mean', 'mean', 'sum', 'none'])
        zero = rnd.choice(['exclude', 'zero'])
        loss, valid = queue_loss(feats, labels, queue, qlabels, temperature, base, mode, variant, zero, reduction)
        upstream = None
        if reduction == 'none':
            upstream = r10(torch.rand(loss.shape, dtype=DTYPE, generator=gen))
            objective = (loss * upstream).sum()
        else:
            objective = loss
        if objective.requires_grad:  # False when no anchor has a positive (the loss is a constant 0)
            objective.backward()
        grad = feats.grad if feats.grad is not None else torch.zeros_like(feats)
        options = {'temperature': temperature, 'contrastMode': mode, 'variant': variant,
                   'reduction': reduction, 'zeroPositives': zero}
        if base is not None:
            options['baseTemperature'] = base
        case = {
            'name': f'q{n} B{B} V{V} D{D} K{K} {"labels" if labelled else "simclr"} {mode} {variant} {reduction}',
            'shape': [B, V, D], 'features': feats.detach().reshape(-1).tolist(),
            'queue': queue.reshape(-1).tolist(), 'queueLabels': qlabels,
            'options': options, 'validAnchors': valid,
            'loss': loss.detach().tolist(), 'grad': grad.reshape(-1).tolist(),
        }
        if labels is not None:
            case['labels'] = labels
        if upstream is not None:
            case['upstream'] = upstream.tolist()
        cases.append(case)
    return cases


if __name__ == '__main__':
    self_check()
    if '--write' in sys.argv:
        cases = make_cases()
        tmp = OUT + '.tmp'
        with open(tmp, 'w') as fh:
            json.dump(cases, fh)
        os.replace(tmp, OUT)
        print(f'wrote {len(cases)} cases to {os.path.relpath(OUT, REPO)}')
