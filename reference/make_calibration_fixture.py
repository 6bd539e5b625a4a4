#!/usr/bin/env python3
"""Reference expected calibration errors (Guo et al. 2017, Eq. 3) in numpy float64, for
packages/supcon/src/eval/calibration.ts.

    python3 reference/make_calibration_fixture.py   # writes packages/supcon/test/fixtures/calibration-cases.json

numpy only (any python3 with numpy; Debian's /usr/bin/python3 works too). Seeded: the same bytes on
every run (outputs are rounded to 12 significant digits, inputs to 10). The definition, restated independently of the TypeScript:

    confidence p_i = max_c softmax(logits_i)_c,  prediction = argmax (first index on ties)
    edges = arange(M + 1) / M;  sample i is in bin m iff edges[m] < p_i <= edges[m + 1]
    (a confidence of 0 goes to bin 0);  ECE = sum_m |B_m|/n * |acc(B_m) - conf(B_m)|

Two kinds of case: `logits` (random logits and labels, labels agreeing with the arg max with a set
probability, so the classifier is over- or under-confident depending on the logit scale), and
`confidence` (confidences placed exactly on bin edges and at 0 and 1, with given correctness), which
pins down the binning convention.
"""
import json
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, 'packages', 'supcon', 'test', 'fixtures', 'calibration-cases.json')


def r10(x):
    """Rounded to 10 significant digits, so the stored inputs are exactly what was evaluated."""
    return np.array([float(f'{v:.10g}') for v in np.asarray(x, dtype=np.float64).ravel()])


def o12(x):
    """Outputs rounded to 12 significant digits: numpy versions differ in the last bit of exp."""
    return None if x is None else float(f'{x:.12g}')


def bins_of(confidence, m):
    edges = np.arange(m + 1) / m
    # searchsorted 'left' gives the first edge >= p, so p lies in (edges[j-1], edges[j]].
    return np.clip(np.searchsorted(edges, confidence, side='left') - 1, 0, m - 1)


def reference(confidence, correct, m):
    idx = bins_of(confidence, m)
    n = len(confidence)
    ece = 0.0
    mce = 0.0
    out = []
    for b in range(m):
        sel = idx == b
        k = int(sel.sum())
        if k == 0:
            out.append({'count': 0, 'accuracy': None, 'confidence': None})
            continue
        acc = float(correct[sel].mean())
        conf = float(confidence[sel].mean())
        ece += k / n * abs(acc - conf)
        mce = max(mce, abs(acc - conf))
        out.append({'count': k, 'accuracy': o12(acc), 'confidence': o12(conf)})
    # Cross-check with Guo et al.'s loop (conf > lower & conf <= upper) where no confidence is 0.
    if (confidence > 0).all():
        lowers, uppers = np.linspace(0, 1, m + 1)[:-1], np.linspace(0, 1, m + 1)[1:]
        guo = 0.0
        for lo, hi in zip(lowers, uppers):
            sel = (confidence > lo) & (confidence <= hi)
            if sel.any():
                guo += sel.mean() * abs(correct[sel].mean() - confidence[sel].mean())
        on_edge = np.isin(confidence, np.arange(m + 1) / m)
        if not on_edge.any():
            assert abs(guo - ece) < 1e-12, (guo, ece)
    return ece, mce, out


def logits_case(rng, name, n, classes, scale, agree, m):
    logits = r10(rng.standard_normal((n, classes)) * scale).reshape(n, classes)
    pred = logits.argmax(1)
    labels = np.where(rng.uniform(size=n) < agree, pred, rng.integers(0, classes, n))
    shifted = logits - logits.max(1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(1, keepdims=True)
    confidence = probs.max(1)
    correct = (pred == labels).astype(np.float64)
    ece, mce, bins = reference(confidence, correct, m)
    return {
        'name': name,
        'kind': 'logits',
        'classes': classes,
        'bins': m,
        'logits': logits.ravel().tolist(),
        'labels': labels.astype(int).tolist(),
        'confidence': [o12(p) for p in confidence],
        'accuracy': o12(float(correct.mean())),
        'ece': o12(ece),
        'maxError': o12(mce),
        'binStats': bins,
    }


def confidence_case(name, confidence, correct, m):
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    ece, mce, bins = reference(confidence, correct, m)
    return {
        'name': name,
        'kind': 'confidence',
        'bins': m,
        'confidence': confidence.tolist(),
        'correct': [bool(c) for c in correct],
        'ece': o12(ece),
        'maxError': o12(mce),
        'binStats': bins,
    }


def main():
    rng = np.random.default_rng(20171)
    cases = [
        logits_case(rng, 'ten-classes-overconfident', 500, 10, 4.0, 0.6, 15),
        logits_case(rng, 'ten-classes-underconfident', 300, 10, 0.5, 0.9, 15),
        logits_case(rng, 'three-classes', 57, 3, 1.5, 0.7, 15),
        logits_case(rng, 'two-classes-ten-bins', 64, 2, 2.0, 0.8, 10),
        logits_case(rng, 'five-classes-one-bin', 40, 5, 1.0, 0.5, 1),
        logits_case(rng, 'large-logits', 100, 10, 80.0, 0.7, 15),
        logits_case(rng, 'one-sample', 1, 4, 1.0, 1.0, 15),
    ]
    # Every edge k/15 (0 and 1 included) twice, once right and once wrong, plus points just inside.
    edges = np.arange(16) / 15
    inside = (np.arange(15) + 0.5) / 15
    cases.append(
        confidence_case(
            'edges-15',
            np.concatenate([edges, edges, inside]),
            np.concatenate([np.ones(16), np.zeros(16), np.arange(15) % 2]),
            15,
        )
    )
    cases.append(confidence_case('edges-4', [0, 0.25, 0.5, 0.75, 1, 0.25, 0.5], [1, 1, 0, 1, 1, 0, 0], 4))
    # Self-check of the convention: an edge k/15 belongs to the bin below it, 0 to bin 0, 1 to the
    # last bin. Bin 0 holds 0 and 1/15 (twice each) and 0.5/15; every other bin its upper edge twice
    # and its midpoint.
    counts = [b['count'] for b in cases[-2]['binStats']]
    assert counts == [5] + [3] * 14, counts
    with open(OUT, 'w') as f:
        f.write('[\n' + ',\n'.join(json.dumps(c) for c in cases) + '\n]\n')
    print(f'wrote {len(cases)} cases to {os.path.relpath(OUT, REPO)}')


if __name__ == '__main__':
    main()
