#!/usr/bin/env python3
"""Reference retrieval metrics in numpy float64, for packages/supcon/src/eval/retrieval.ts.

    /usr/bin/python3 reference/make_retrieval_fixture.py   # writes packages/supcon/test/fixtures/retrieval-cases.json

numpy only. Seeded: the same bytes on every run. The definitions, restated here independently of
the TypeScript (which counts ranks instead of sorting; this script sorts every row):

    rank the gallery by closeness to the query: cosine similarity (higher first) or Euclidean
    distance (lower first); in leave-one-out mode the query itself is not in its gallery; on equal
    closeness a gallery item of another label ranks first (a tie never helps the score).
    rel_i = 1 when the i-th ranked item has the query's label; R = sum_i rel_i.
    Recall@K    = 1 if any rel_i = 1 for i <= K (K past the gallery: the whole gallery)
    precision@1 = rel_1
    R-precision = (1/R) sum_{i<=R} rel_i
    AP@R        = (1/R) sum_{i<=R} rel_i * (1/i) sum_{j<=i} rel_j      (mAP@R: its mean)
    Every metric is averaged over the queries with R > 0; the others are counted as skipped.

Inputs are float32 values (stored exactly in the JSON), clustered around per-class centres so the
metrics are neither 0 nor 1, with a few query labels absent from the gallery. A seed is kept only if
no relevant and non-relevant gallery item of any query row are within 1e-4 of each other in
closeness: the TypeScript computes in float32, and such a near-tie could rank differently there.
"""
import json
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(REPO, 'packages', 'supcon', 'test', 'fixtures', 'retrieval-cases.json')
KS = [1, 2, 5, 10, 100]  # 100: more than every gallery here
MIN_GAP = 1e-4


def closeness_keys(q, g, metric):
    """[Q, G] sort keys, smaller = closer."""
    if metric == 'cosine':
        qn = q / np.linalg.norm(q, axis=1, keepdims=True)
        gn = g / np.linalg.norm(g, axis=1, keepdims=True)
        return -(qn @ gn.T)
    return np.sqrt(((q[:, None, :] - g[None, :, :]) ** 2).sum(-1))


def reference(q, yq, g, yg, metric, leave_one_out):
    keys = closeness_keys(q, g, metric)
    recall = {k: [] for k in KS}
    p1, rp, ap = [], [], []
    skipped = 0
    min_gap = np.inf
    for i in range(len(q)):
        keep = np.arange(len(g)) != i if leave_one_out else np.ones(len(g), bool)
        key = keys[i][keep]
        rel = (yg[keep] == yq[i]).astype(np.float64)
        order = np.lexsort((rel, key))  # by key, then non-relevant (0) before relevant (1)
        r = rel[order]
        # Only a near-tie between a relevant and a non-relevant item can change a metric.
        mixed = r[1:] != r[:-1]
        if mixed.any():
            min_gap = min(min_gap, np.diff(key[order])[mixed].min())
        big_r = int(r.sum())
        if big_r == 0:
            skipped += 1
            continue
        for k in KS:
            recall[k].append(float(r[:k].any()))
        p1.append(r[0])
        top = r[:big_r]
        rp.append(top.sum() / big_r)
        precision_at_i = np.cumsum(top) / np.arange(1, big_r + 1)
        ap.append((precision_at_i * top).sum() / big_r)
    return {
        'queries': len(p1),
        'skippedQueries': skipped,
        'recallAtK': {str(k): float(np.mean(v)) for k, v in recall.items()},
        'precisionAt1': float(np.mean(p1)),
        'rPrecision': float(np.mean(rp)),
        'mapAtR': float(np.mean(ap)),
    }, min_gap


def clustered(rng, labels, centres, noise):
    x = centres[labels] + noise * rng.standard_normal((len(labels), centres.shape[1]))
    return x.astype(np.float32)


def make_case(seed, name, metric, leave_one_out):
    rng = np.random.default_rng(seed)
    dim, classes = 8, 5
    centres = rng.standard_normal((classes + 1, dim)) * 1.2
    if leave_one_out:
        # 60 items; label 5 appears once (a lone query: no other item of its label).
        yg = np.concatenate([rng.integers(0, classes, 59), [classes]]).astype(np.int64)
        g = clustered(rng, yg, centres, 1.6)
        q, yq = g, yg
    else:
        yg = rng.integers(0, classes, 60).astype(np.int64)
        # 40 queries, the last three of label 5, which the gallery lacks.
        yq = np.concatenate([rng.integers(0, classes, 37), [classes] * 3]).astype(np.int64)
        g = clustered(rng, yg, centres, 1.6)
        q = clustered(rng, yq, centres, 1.6)
    expected, gap = reference(
        q.astype(np.float64), yq, g.astype(np.float64), yg, metric, leave_one_out
    )
    if gap < MIN_GAP:
        return None
    case = {
        'name': name,
        'metric': metric,
        'mode': 'leave-one-out' if leave_one_out else 'gallery',
        'seed': seed,
        'dim': dim,
        'ks': KS,
        'queries': [float(v) for v in q.ravel()],
        'queryLabels': [int(v) for v in yq],
        'expected': expected,
    }
    if not leave_one_out:
        case['gallery'] = [float(v) for v in g.ravel()]
        case['galleryLabels'] = [int(v) for v in yg]
    return case


def main():
    cases = []
    for name, metric, loo in [
        ('gallery-cosine', 'cosine', False),
        ('gallery-euclidean', 'euclidean', False),
        ('leave-one-out-cosine', 'cosine', True),
        ('leave-one-out-euclidean', 'euclidean', True),
    ]:
        seed = 1
        while (case := make_case(seed, name, metric, loo)) is None:
            seed += 1
        cases.append(case)
    with open(OUT, 'w') as f:
        json.dump({'generator': 'reference/make_retrieval_fixture.py', 'cases': cases}, f)
        f.write('\n')
    for c in cases:
        e = c['expected']
        print(
            f"{c['name']:24s} seed {c['seed']:3d}  R@1 {e['recallAtK']['1']:.4f}  R@10 {e['recallAtK']['10']:.4f}"
            f"  rP {e['rPrecision']:.4f}  mAP@R {e['mapAtR']:.4f}  skipped {e['skippedQueries']}"
        )


if __name__ == '__main__':
    main()
