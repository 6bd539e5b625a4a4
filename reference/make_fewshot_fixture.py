"""Writes packages/supcon/test/fixtures/fewshot-cases.json: support and query features drawn around
class centres, with the predictions of nearest class mean (cosine) and of cosine kNN (k = 1 and 3,
one vote each, ties to the class of the nearest neighbour), computed here with numpy alone."""
import json
import os

import numpy as np

rng = np.random.default_rng(7)
classes, dim, shots, queries = 4, 6, 3, 30
centres = rng.normal(size=(classes, dim))
support_labels = np.repeat(np.arange(classes), shots)
support = centres[support_labels] + 0.9 * rng.normal(size=(classes * shots, dim))
query_labels = rng.integers(0, classes, size=queries)
query = centres[query_labels] + 0.9 * rng.normal(size=(queries, dim))
support = support.astype(np.float32)
query = query.astype(np.float32)


def unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


s, q = unit(support.astype(np.float64)), unit(query.astype(np.float64))
means = unit(np.stack([s[support_labels == c].mean(axis=0) for c in range(classes)]))
ncm = (q @ means.T).argmax(axis=1)


def knn(k):
    sims = q @ s.T
    out = []
    for row in sims:
        order = np.argsort(-row, kind="stable")[:k]
        votes = np.bincount(support_labels[order], minlength=classes)
        best = np.flatnonzero(votes == votes.max())
        # the tie goes to the class among the tied whose first neighbour comes first
        firsts = {c: int(np.flatnonzero(support_labels[order] == c)[0]) for c in best}
        out.append(min(best, key=lambda c: firsts[c]))
    return np.array(out)


case = {
    "classes": classes,
    "dim": dim,
    "support": support.ravel().tolist(),
    "supportLabels": support_labels.tolist(),
    "queries": query.ravel().tolist(),
    "queryLabels": query_labels.tolist(),
    "ncm": ncm.tolist(),
    "knn1": knn(1).tolist(),
    "knn3": knn(3).tolist(),
    "ncmAccuracy": float((ncm == query_labels).mean()),
}
out = os.path.join(os.path.dirname(__file__), "..", "packages", "supcon", "test", "fixtures", "fewshot-cases.json")
with open(out, "w") as f:
    json.dump(case, f)
print(f"wrote {out}: ncm accuracy {case['ncmAccuracy']:.3f}")
