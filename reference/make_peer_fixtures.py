#!/usr/bin/python3
"""Writes packages/supcon/test/fixtures/loss-peers.json: the losses of the libraries users switch from,
each evaluated from its documented behaviour in float64 PyTorch, with the gradient with respect to the
input that library takes. The TypeScript test (packages/supcon/test/loss-peers.test.ts) makes the call
that docs/loss.md maps each one to and compares values and gradients.

    /usr/bin/python3 reference/make_peer_fixtures.py [--out PATH] [--seed 20261]

The peers are restated here as formulas, not copied:
- SupContrast (HobbitLong, PyTorch): mean over every anchor view of -(tau/base) * mean over the
  anchor's positives of log softmax over all other rows; an anchor without positives counts as 0.
- supcon/losses.py (official TensorFlow): labels one-hot [B, K], positives U = labels @ labels^T,
  optional positives cap, three denominators, the sum over positives outside or inside the log,
  optional scale by tau, one loss per sample (the mean over its anchor views).
- pytorch-metric-learning SupConLoss: embeddings [N, D] compared by cosine similarity; 0 for a
  batch without a positive pair or without a negative pair; the mean over anchors whose loss is > 0.
- pytorch-metric-learning NTXentLoss: one term per positive pair (a, p),
  -log(e^s_ap / (e^s_ap + sum_n e^s_an)), averaged over positive pairs; 0 without negative pairs.
- pytorch-metric-learning CrossBatchMemory(SupConLoss): the batch is written to the memory first,
  detached, and each batch row is contrasted with every memory row but its own copy.
- lightly NTXentLoss and SupConLoss: two views (out0, out1) normalised inside, view-major rows, the
  mean over 2B anchors; SupConLoss multiplies by tau when `rescale` (its default).

Seeded and deterministic. Inputs are rounded to 10 significant digits before evaluation.
"""

import argparse
import json
import os
import random

import torch

DTYPE = torch.float64
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, 'packages', 'supcon', 'test', 'fixtures', 'loss-peers.json')


def r10(x):
    v = float(f'{x:.10g}')
    return 0.0 if v == 0 else v


def unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def masked_lse(logits, member):
    """log sum exp over the entries where `member` is true, per row; -inf for an empty row."""
    return torch.where(member, logits, torch.full_like(logits, float('-inf'))).logsumexp(dim=1)


# -- the peers ------------------------------------------------------------------------------------

def supcontrast(features, labels=None, mask=None, temperature=0.07, base_temperature=0.07, contrast_mode='all'):
    """features [B, V, D] used as given -> scalar."""
    B, V = features.shape[:2]
    f = features.reshape(B, V, -1)
    rows = torch.cat(f.unbind(1))  # [V*B, D] view-major
    if labels is not None:
        y = torch.tensor(labels)
        U = (y[:, None] == y[None, :]).to(DTYPE)
    elif mask is not None:
        U = torch.tensor(mask, dtype=DTYPE)
    else:
        U = torch.eye(B, dtype=DTYPE)
    A = 1 if contrast_mode == 'one' else V
    anchors = rows[: A * B]  # [A*B, D]
    logits = anchors @ rows.T / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    other = torch.ones_like(logits)
    other[torch.arange(A * B), torch.arange(A * B)] = 0  # the anchor itself
    W = U.repeat(A, V) * other
    log_prob = logits - (logits.exp() * other).sum(1, keepdim=True).log()
    count = W.sum(1)
    count = torch.where(count < 1e-6, torch.ones_like(count), count)
    per_anchor = -(temperature / base_temperature) * (W * log_prob).sum(1) / count
    return per_anchor.mean()


def tf_contrastive(features, one_hot=None, temperature=1.0, contrast_mode='all', summation='out',
                   denominator='all', positives_cap=-1, scale_by_temperature=True):
    """features [B, V, ...] used as given, one_hot [B, K] -> per-sample loss [B]."""
    B, V = features.shape[:2]
    f = features.reshape(B, V, -1)
    rows = f.transpose(0, 1).reshape(V * B, -1)  # view-major
    eye = torch.eye(B, dtype=DTYPE)
    U = eye.clone() if one_hot is None else (lambda y: y @ y.T)(torch.tensor(one_hot, dtype=DTYPE))
    A = 1 if contrast_mode == 'one' else V
    anchors = rows[: A * B]
    logits = anchors @ rows.T / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    e = logits.exp()
    negatives = 1 - U.repeat(A, V)
    if positives_cap > -1:
        k = positives_cap // V
        others = torch.minimum(U, 1 - eye)
        kept = torch.zeros_like(U)
        for a in range(B):  # the k largest entries of the row, the lower index first among equals
            order = sorted(range(B), key=lambda s: (-others[a, s].item(), s))[:k]
            for s in order:
                kept[a, s] = 1
        U = U * torch.maximum(kept, eye)
    positives = U.repeat(A, V)
    positives[torch.arange(A * B), torch.arange(A * B)] = 0
    count = positives.sum(1)
    neg_sum = (e * negatives).sum(1, keepdim=True)
    if denominator == 'all':
        den = neg_sum + (e * positives).sum(1, keepdim=True)
    elif denominator == 'one-positive':
        den = e + neg_sum
    else:
        den = neg_sum
    safe = torch.where(count > 0, count, torch.ones_like(count))
    if summation == 'out':
        lp = ((logits - den.log()) * positives).sum(1) / safe * (count > 0)
    else:
        lp = (((e / den) * positives).sum(1) / safe).log()
    loss = -lp * (temperature if scale_by_temperature else 1.0)
    loss = loss.reshape(A, B)
    if V != 1:
        return loss.mean(0)
    return torch.where(count > 0, loss[0] / safe, torch.zeros_like(safe))  # a second division by |P|


def _pml_pairs(labels, ref_labels, own):
    """Positive pairs (same label, not the query's own row) and negative pairs (other label)."""
    same = torch.tensor(labels)[:, None] == torch.tensor(ref_labels, dtype=torch.long)[None, :]
    return same & ~own, ~same


def _pml_supcon(queries, refs, pos, neg, temperature):
    """SupConLoss of queries [N, D] against refs [M, D]: 0 without a positive or a negative pair;
    else the mean over the queries whose loss is > 0 (its default reducer drops the zeros)."""
    if not (pos.any() and neg.any()):
        return (queries * 0).sum()
    s = unit(queries) @ unit(refs).T / temperature
    s = s - s.max(dim=1, keepdim=True).values.detach()
    log_prob = s - masked_lse(s, pos | neg)[:, None]
    per = -(torch.where(pos, log_prob, torch.zeros_like(s))).sum(1) / pos.sum(1).clamp(min=1)
    kept = per > 0
    return per[kept].mean() if kept.any() else (queries * 0).sum()


def pml_supcon(embeddings, labels, temperature=0.1):
    """embeddings [N, D] -> scalar."""
    pos, neg = _pml_pairs(labels, labels, torch.eye(len(labels), dtype=torch.bool))
    return _pml_supcon(embeddings, embeddings, pos, neg, temperature)


def pml_ntxent(embeddings, labels, temperature=0.07):
    """embeddings [N, D] -> scalar: the mean over positive pairs."""
    pos, neg = _pml_pairs(labels, labels, torch.eye(len(labels), dtype=torch.bool))
    if not (pos.any() and neg.any()):
        return (embeddings * 0).sum()
    s = unit(embeddings) @ unit(embeddings).T / temperature
    terms = []
    for a, p in pos.nonzero().tolist():
        both = torch.cat([s[a, p:p + 1], s[a][neg[a]]])
        terms.append(-(s[a, p] - both.logsumexp(0)))
    return torch.stack(terms).mean()


def pml_cross_batch(embeddings, labels, memory, memory_labels, temperature=0.1, detach=True):
    """SupConLoss through CrossBatchMemory: embeddings [N, D] against memory rows [K, D] and the batch
    itself (a detached copy in the memory when `detach`, PML's behaviour) -> scalar."""
    n, k = embeddings.shape[0], memory.shape[0]
    refs = torch.cat([memory, embeddings.detach() if detach else embeddings])  # [K + N, D]
    own = torch.zeros(n, k + n, dtype=torch.bool)
    own[torch.arange(n), k + torch.arange(n)] = True  # each query's own copy in the memory
    pos, neg = _pml_pairs(labels, list(memory_labels) + list(labels), own)
    return _pml_supcon(embeddings, refs, pos, neg, temperature)


def _lightly_rows(views):
    """views [2, B, D] (out0, out1) -> unit rows [2B, D] view-major, logits helpers."""
    return unit(torch.cat([views[0], views[1]]))


def lightly_ntxent(views, temperature=0.5):
    rows = _lightly_rows(views)
    n = rows.shape[0]
    b = n // 2
    logits = rows @ rows.T / temperature
    other = ~torch.eye(n, dtype=torch.bool)
    partner = (torch.arange(n) + b) % n
    return (masked_lse(logits, other) - logits[torch.arange(n), partner]).mean()


def lightly_supcon(views, labels=None, temperature=0.5, rescale=True):
    rows = _lightly_rows(views)
    n = rows.shape[0]
    b = n // 2
    y = torch.arange(b) if labels is None else torch.tensor(labels)
    y = y.repeat(2)
    logits = rows @ rows.T / temperature
    other = ~torch.eye(n, dtype=torch.bool)
    pos = (y[:, None] == y[None, :]) & other
    log_prob = logits - masked_lse(logits, other)[:, None]
    per = -(torch.where(pos, log_prob, torch.zeros_like(logits))).sum(1) / pos.sum(1)
    return per.mean() * (temperature if rescale else 1.0)


# -- cases ----------------------------------------------------------------------------------------

class Builder:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.cases = []

    def draw(self, shape, normalise=False, scale=1.0):
        x = torch.randn(*shape, dtype=DTYPE, generator=self.gen) * scale
        if normalise:
            x = unit(x.reshape(*shape[:2], -1)).reshape(shape)
        return torch.tensor([r10(v) for v in x.reshape(-1).tolist()], dtype=DTYPE).reshape(shape)

    def add(self, name, peer, call, x, fn, extra=None, memory=None, true_fn=None):
        """fn(x) -> the peer's loss (scalar or [B]); with `true_fn`, also the gradient without the
        peer's detach (stored as `grad`; the peer's own gradient goes to `peerGrad`)."""
        assert all(c['name'] != name for c in self.cases), name
        x = x.clone().requires_grad_(True)
        loss = fn(x)
        case = {'name': name, 'peer': peer, 'call': call,
                'input': {'shape': list(x.shape), 'values': [r10(v) for v in x.detach().reshape(-1).tolist()]}}
        case.update(extra or {})
        if memory is not None:
            case['memory'] = memory
        if loss.dim() > 0:
            upstream = [r10(self.rng.uniform(-1, 1)) for _ in range(loss.numel())]
            objective = lambda l: (l * torch.tensor(upstream, dtype=DTYPE)).sum()  # noqa: E731
            case['loss'] = [r10(v) for v in loss.tolist()]
            case['upstream'] = upstream
        else:
            objective = lambda l: l  # noqa: E731
            case['loss'] = r10(loss.item())

        def gradient(f):
            xx = x.detach().clone().requires_grad_(True)
            out = objective(f(xx))
            if not out.requires_grad:
                return torch.zeros_like(xx)
            (g,) = torch.autograd.grad(out, xx)
            return g

        flat = lambda g: [r10(v) for v in g.reshape(-1).tolist()]  # noqa: E731
        case['grad'] = flat(gradient(true_fn or fn))
        if true_fn is not None:
            case['peerGrad'] = flat(gradient(fn))
        assert all(abs(v) < 1e6 for v in case['grad']), name
        self.cases.append(case)
        return case


def build(seed):
    b = Builder(seed)
    R = b.rng

    # SupContrast: features [B, V, D] (unit rows), labels | mask | nothing.
    sc = [
        ('labels-all', dict(temperature=0.07, base_temperature=0.07), [8, 2, 16], 'labels'),
        ('labels-tau0.1-base0.07', dict(temperature=0.1, base_temperature=0.07), [8, 2, 16], 'labels'),
        ('labels-one-views3', dict(temperature=0.1, base_temperature=0.1, contrast_mode='one'), [6, 3, 8], 'labels'),
        ('mask-weighted-asymmetric', dict(temperature=0.2, base_temperature=0.2), [6, 2, 8], 'mask'),
        ('simclr', dict(temperature=0.5, base_temperature=0.5), [6, 2, 8], None),
        ('views1-singletons', dict(temperature=0.1, base_temperature=0.1), [7, 1, 8], 'singletons'),
        ('batch1-simclr', dict(temperature=0.1, base_temperature=0.1), [1, 2, 8], None),
        ('batch1-labels-one', dict(temperature=0.1, base_temperature=0.07, contrast_mode='one'), [1, 3, 8], 'labels'),
    ]
    for name, kw, shape, source in sc:
        B = shape[0]
        extra, fkw = {}, {}
        if source == 'labels':
            extra['labels'] = fkw['labels'] = [R.randrange(3) for _ in range(B)]
        elif source == 'singletons':
            extra['labels'] = fkw['labels'] = [0, 0, 1, 2, 2, 2, 3][:B]
        elif source == 'mask':
            m = [[round(R.uniform(0.2, 2), 3) if (a == s or R.random() < 0.35) else 0.0 for s in range(B)]
                 for a in range(B)]
            m[0][B - 1], m[B - 1][0] = 1.0, 0.0
            extra['mask'] = {'shape': [B, B], 'values': [v for row in m for v in row]}
            fkw['mask'] = m
        b.add(f'supcontrast-{name}', 'supcontrast', kw, b.draw(shape, normalise=True),
              lambda x, kw=kw, fkw=fkw: supcontrast(x, **fkw, **kw), extra)

    # Official TensorFlow: features [B, V, D] as given (unnormalised is fine at tau 1), one-hot labels.
    def one_hot(labels, k):
        return [[1 if y == c else 0 for c in range(k)] for y in labels]

    tf_cases = []
    for summation in ['out', 'in']:
        for denominator in ['all', 'one-positive', 'only-negatives']:
            tf_cases.append((f'{summation}-{denominator}', dict(summation=summation, denominator=denominator,
                                                               temperature=R.choice([0.5, 1.0])), [6, 2, 4]))
    tf_cases += [
        ('one-view', dict(contrast_mode='one', temperature=0.5), [6, 2, 4]),
        ('cap2-views2', dict(positives_cap=2, temperature=1.0), [8, 2, 4]),
        ('cap0-views2-in', dict(positives_cap=0, summation='in', temperature=1.0), [6, 2, 4]),
        ('no-scale', dict(scale_by_temperature=False, temperature=0.2), [6, 2, 8]),
        ('views3-one-positive', dict(denominator='one-positive', temperature=0.5), [5, 3, 4]),
        ('rank4', dict(temperature=0.5), [5, 2, 2, 3]),
        ('no-labels', dict(temperature=0.5), [5, 2, 4]),
        ('batch1', dict(temperature=0.5), [1, 2, 4]),
    ]
    for name, kw, shape in tf_cases:
        B = shape[0]
        extra, fkw = {}, {}
        if name != 'no-labels':
            labels = [R.randrange(3) for _ in range(B)]
            if kw.get('denominator') == 'only-negatives' and len(set(labels)) == 1:
                labels[0] = (labels[0] + 1) % 3
            oh = one_hot(labels, 3)
            extra['oneHot'] = {'shape': [B, 3], 'values': [v for row in oh for v in row]}
            fkw['one_hot'] = oh
        b.add(f'tf-{name}', 'tf', kw, b.draw(shape, scale=0.5),
              lambda x, kw=kw, fkw=fkw: tf_contrastive(x, **fkw, **kw), extra)
    # The known difference: with one view TF divides by the number of positives a second time.
    labels = [0, 0, 1, 2, 2, 2, 1, 3]
    oh = one_hot(labels, 4)
    b.add('tf-views1-divides-twice', 'tf', dict(temperature=0.5), b.draw([8, 1, 4], scale=0.5),
          lambda x: tf_contrastive(x, one_hot=oh, temperature=0.5),
          {'oneHot': {'shape': [8, 4], 'values': [v for row in oh for v in row]}})

    # pytorch-metric-learning SupConLoss / NTXentLoss: embeddings [N, D], raw (cosine similarity).
    pml_labels = {
        'random': [R.randrange(3) for _ in range(10)],
        'singletons': [0, 0, 1, 2, 2, 2, 3, 4],
        'one-class': [5] * 6,
        'all-unique': [0, 1, 2, 3, 4],
        'pairs-2-2-2-1-1': [0, 0, 0, 1, 1],
        'simclr-pairs': [0, 1, 2, 3, 0, 1, 2, 3],
        'batch1': [7],
    }
    for name, labels in pml_labels.items():
        n = len(labels)
        x = b.draw([n, 8])
        b.add(f'pml-supcon-{name}', 'pml-supcon', dict(temperature=0.1), x,
              lambda e, y=labels: pml_supcon(e, y, temperature=0.1), {'labels': labels})
        b.add(f'pml-ntxent-{name}', 'pml-ntxent', dict(temperature=0.07), x,
              lambda e, y=labels: pml_ntxent(e, y, temperature=0.07), {'labels': labels})

    # pytorch-metric-learning CrossBatchMemory(SupConLoss): values equal, gradients not.
    for name, n, k in [('memory12', 6, 12), ('memory-empty', 6, 0), ('memory5-batch1', 1, 5), ('one-class', 4, 6)]:
        classes = 1 if name == 'one-class' else 3
        labels = [R.randrange(classes) for _ in range(n)]
        memory_labels = [R.randrange(classes) for _ in range(k)]
        mem = b.draw([k, 8]) if k else torch.zeros(0, 8, dtype=DTYPE)
        memory = {'shape': [k, 8], 'values': [r10(v) for v in mem.reshape(-1).tolist()], 'labels': memory_labels}
        fn = lambda e, y=labels, m=mem, ml=memory_labels, d=True: pml_cross_batch(e, y, m, ml, 0.1, detach=d)  # noqa: E731
        b.add(f'pml-cross-batch-{name}', 'pml-cross-batch', dict(temperature=0.1), b.draw([n, 8]), fn,
              {'labels': labels}, memory=memory, true_fn=lambda e, f=fn: f(e, d=False))

    # lightly: out0, out1 [B, D] each, raw (normalised inside), stored as [2, B, D].
    for name, B, tau in [('tau0.5', 6, 0.5), ('tau0.2', 4, 0.2), ('batch1', 1, 0.5)]:
        b.add(f'lightly-ntxent-{name}', 'lightly-ntxent', dict(temperature=tau), b.draw([2, B, 8]),
              lambda v, t=tau: lightly_ntxent(v, temperature=t))
    for name, B, tau, rescale, with_labels in [('labels-rescale', 6, 0.5, True, True),
                                               ('labels-no-rescale', 6, 0.1, False, True),
                                               ('no-labels', 5, 0.5, True, False),
                                               ('batch1', 1, 0.5, True, True)]:
        labels = [R.randrange(2) for _ in range(B)] if with_labels else None
        b.add(f'lightly-supcon-{name}', 'lightly-supcon', dict(temperature=tau, rescale=rescale), b.draw([2, B, 8]),
              lambda v, y=labels, t=tau, r=rescale: lightly_supcon(v, y, temperature=t, rescale=r),
              {'labels': labels} if labels else {})
    return b.cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=DEFAULT_OUT)
    parser.add_argument('--seed', type=int, default=20261)
    args = parser.parse_args()
    cases = build(args.seed)
    text = '[\n' + ',\n'.join(json.dumps(c, separators=(',', ':')) for c in cases) + '\n]\n'
    tmp = f'{args.out}.{os.getpid()}.tmp'
    with open(tmp, 'w') as fh:
        fh.write(text)
    os.replace(tmp, args.out)
    peers = sorted({c['peer'] for c in cases})
    print(f'wrote {len(cases)} cases for {len(peers)} peers ({", ".join(peers)}), {len(text) / 1e3:.0f} kB '
          f'-> {os.path.relpath(args.out, REPO)}')


if __name__ == '__main__':
    main()
