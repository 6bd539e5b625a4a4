#!/usr/bin/python3
"""Independent float64 reference of the SupCon loss (Khosla et al. 2020, arXiv 2004.11362).

Written from the project spec, not from the TypeScript implementation, so that the
TypeScript loss can be tested against it (values and gradients, via autograd).
Clarity over speed: one anchor at a time, plain torch ops, float64 throughout.

Run it directly to self-check against the golden values of the official TensorFlow
tests (google-research/google-research, supcon/losses_test.py), the closed form for
identical features, and finite differences:

    /usr/bin/python3 reference/supcon_reference.py

Conventions (see reference/README.md for the full statement):
- features [B, V, ...]; dims after the views axis are flattened to D.
- rows are view-major: row r = v*B + b holds features[b, v]; N = B*V rows; s(r) = r mod B.
- anchors: all N rows (contrast_mode 'all') or rows 0..B-1 (contrast_mode 'one').
- U [B, B] is the untiled sample matrix: U[a, s] > 0 means sample s is a positive
  (with that weight) for anchor sample a.
"""

import math
import sys

import torch

DTYPE = torch.float64

CONTRAST_MODES = ('all', 'one')
VARIANTS = ('out', 'in')
DENOMINATORS = ('all', 'one-positive', 'only-negatives')
ZERO_POSITIVES = ('exclude', 'zero')
REDUCTIONS = ('mean', 'sum', 'none')


def _expect(name, value, allowed):
    if value not in allowed:
        raise ValueError(f'Invalid value for argument `{name}`. Expected one of {allowed}. Received: {value!r}')


def sample_matrix(batch, labels=None, multi_hot=None, mask=None):
    """The untiled positives matrix U [B, B] (float64) from exactly one way of giving positives."""
    given = [x is not None for x in (labels, multi_hot, mask)]
    if sum(given) > 1:
        raise ValueError('Give at most one of labels, multi_hot and mask.')
    if labels is not None:
        labels = torch.as_tensor(labels).reshape(-1)  # [B]
        if labels.numel() != batch:
            raise ValueError(f'labels must have {batch} entries, received {labels.numel()}')
        return (labels[:, None] == labels[None, :]).to(DTYPE)  # [B, B]
    if multi_hot is not None:
        y = torch.as_tensor(multi_hot, dtype=DTYPE)  # [B, K]
        if y.dim() != 2 or y.shape[0] != batch:
            raise ValueError(f'multi_hot must have shape [{batch}, K], received {list(y.shape)}')
        # Two samples are positives when they share at least one label.
        return ((y @ y.T) > 0).to(DTYPE)  # [B, B]
    if mask is not None:
        m = torch.as_tensor(mask, dtype=DTYPE)  # [B, B]
        if list(m.shape) != [batch, batch]:
            raise ValueError(f'mask must have shape [{batch}, {batch}], received {list(m.shape)}')
        if (m < 0).any():
            raise ValueError('mask must be non-negative')
        return m.clone()
    # SimCLR: each sample is its own class.
    return torch.eye(batch, dtype=DTYPE)  # [B, B]


def cap_positives(U, k):
    """Keep, per anchor sample a, only the k lowest-index positive samples s != a; U[a, a] is kept."""
    B = U.shape[0]
    capped = U.clone()
    for a in range(B):
        kept = 0
        for s in range(B):
            if s == a or U[a, s] <= 0:
                continue
            if kept < k:
                kept += 1
            else:
                capped[a, s] = 0.0
    return capped


def supcon_loss(
    features,
    labels=None,
    multi_hot=None,
    mask=None,
    temperature=0.1,
    base_temperature=None,
    contrast_mode='all',
    variant='out',
    denominator='all',
    positives_cap=-1,
    zero_positives='exclude',
    reduction='mean',
):
    """SupCon loss. Returns (loss, info) where info has 'anchors_without_positives',
    'valid_anchors' and 'anchors'. loss is a scalar ('mean', 'sum') or a [M] vector ('none')."""
    _expect('contrast_mode', contrast_mode, CONTRAST_MODES)
    _expect('variant', variant, VARIANTS)
    _expect('denominator', denominator, DENOMINATORS)
    _expect('zero_positives', zero_positives, ZERO_POSITIVES)
    _expect('reduction', reduction, REDUCTIONS)
    if not temperature > 0:
        raise ValueError(f'temperature must be > 0, received {temperature}')
    if base_temperature is None:
        base_temperature = temperature
    if not base_temperature > 0:
        raise ValueError(f'base_temperature must be > 0, received {base_temperature}')
    if features.dim() < 3:
        raise ValueError(f'features must have shape [B, V, ...], received {list(features.shape)}')

    B, V = features.shape[0], features.shape[1]
    N = B * V
    feats = features.reshape(B, V, -1)  # [B, V, D]
    rows = feats.transpose(0, 1).reshape(N, -1)  # [N, D], view-major: row v*B + b

    U = sample_matrix(B, labels, multi_hot, mask)  # [B, B]
    if positives_cap >= 0:
        if positives_cap % V != 0:
            raise ValueError(f'positives_cap must be -1 or a multiple of views ({V}), received {positives_cap}')
        U_cap = cap_positives(U, positives_cap // V)  # [B, B]
    else:
        U_cap = U

    anchor_rows = list(range(N)) if contrast_mode == 'all' else list(range(B))
    M = len(anchor_rows)
    scale = temperature / base_temperature
    sample_of = torch.arange(N) % B  # [N]

    losses = []
    n_valid = 0
    n_without_positives = 0
    for i in anchor_rows:
        a = i % B
        not_self = torch.arange(N) != i  # [N]
        W = U_cap[a][sample_of] * not_self  # [N] positive weights; W[i] = 0
        negative = (U[a][sample_of] == 0) & not_self  # [N], from the uncapped U
        positive = W > 0  # [N]
        w_sum = W.sum()
        if w_sum <= 0:
            n_without_positives += 1
        has_negative = bool(negative.any())
        valid = w_sum > 0 and (denominator != 'only-negatives' or has_negative)
        if not valid:
            losses.append(torch.zeros((), dtype=DTYPE))
            continue
        n_valid += 1

        S = rows @ rows[i] / temperature  # [N] similarities of anchor i
        S_pos = S[positive]  # [P]
        W_pos = W[positive]  # [P]
        if denominator == 'all':
            log_den = torch.logsumexp(S[positive | negative], dim=0).expand_as(S_pos)  # [P]
        elif denominator == 'only-negatives':
            log_den = torch.logsumexp(S[negative], dim=0).expand_as(S_pos)  # [P]
        else:  # 'one-positive': each positive j gets its own denominator exp(S_ij) + sum_neg exp(S_ik)
            if has_negative:
                log_den = torch.logaddexp(S_pos, torch.logsumexp(S[negative], dim=0))  # [P]
            else:
                log_den = S_pos
        log_prob = S_pos - log_den  # [P]
        if variant == 'out':
            loss_i = -(W_pos * log_prob).sum() / w_sum
        else:
            loss_i = -torch.logsumexp(torch.log(W_pos / w_sum) + log_prob, dim=0)
        losses.append(loss_i * scale)

    per_anchor = torch.stack(losses)  # [M]
    info = {'anchors': M, 'valid_anchors': n_valid, 'anchors_without_positives': n_without_positives}
    if reduction == 'none':
        return per_anchor, info
    total = per_anchor.sum()
    if reduction == 'sum':
        return total, info
    count = n_valid if zero_positives == 'exclude' else M
    if count == 0:
        return total * 0.0, info
    return total / count, info


# ---------------------------------------------------------------------------
# Self-checks
# ---------------------------------------------------------------------------

GOLDEN_FEATURES = [
    [[0.01, 0.02, 0.14], [0.38, 0.61, 0.50]],
    [[0.86, 0.97, 0.33], [0.26, 0.68, 0.45]],
    [[0.32, 0.64, 0.28], [0.45, 0.74, 0.73]],
]
GOLDEN_LABELS = [0, 0, 1]
# (variant, denominator) -> per-sample loss (mean of the two views), from the official TensorFlow
# tests (google-research/google-research, supcon/losses_test.py,
# testLossForSummationLocationsAndDenominatorModes).
GOLDEN = {
    ('out', 'all'): [1.6755852, 1.7973773, 1.58471],
    ('out', 'one-positive'): [1.1782627, 1.3435497, 1.58471],
    ('out', 'only-negatives'): [0.79652834, 1.0154991, 1.3529458],
    ('in', 'all'): [1.6356678, 1.7135872, 1.58471],
    ('in', 'one-positive'): [1.1571673, 1.2941568, 1.58471],
    ('in', 'only-negatives'): [0.756611, 0.93170905, 1.3529458],
}


def check_golden():
    feats = torch.tensor(GOLDEN_FEATURES, dtype=DTYPE)
    B = feats.shape[0]
    for (variant, denominator), expected in GOLDEN.items():
        per_anchor, _ = supcon_loss(
            feats, labels=GOLDEN_LABELS, temperature=1.0, variant=variant, denominator=denominator, reduction='none'
        )
        per_sample = ((per_anchor[:B] + per_anchor[B:]) / 2).tolist()
        for b, (got, want) in enumerate(zip(per_sample, expected)):
            if abs(got - want) > 1e-6 * max(1.0, abs(want)):
                raise AssertionError(f'golden {variant}/{denominator} sample {b}: got {got:.9f}, expected {want}')
    print(f'golden: all {len(GOLDEN)} cells match the official TensorFlow tests to 1e-6')


def check_closed_form():
    """Identical unit features, 'all' denominator, no cap: every valid anchor scores log(N - 1) * scale."""
    configs = [
        dict(B=4, V=2, labels=[0, 1, 0, 2]),
        dict(B=5, V=3, labels=[1, 1, 1, 1, 1]),
        dict(B=6, V=1, labels=[0, 0, 1, 1, 2, 2]),
        dict(B=3, V=4),  # SimCLR
        dict(B=4, V=2, multi_hot=[[1, 0], [1, 1], [0, 1], [0, 1]]),
        dict(B=3, V=2, mask=[[0.0, 2.0, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 0.0]]),
    ]
    checked = 0
    for cfg in configs:
        B, V = cfg.pop('B'), cfg.pop('V')
        N = B * V
        unit = torch.randn(7, dtype=DTYPE, generator=torch.Generator().manual_seed(B * 10 + V))
        unit = unit / unit.norm()
        feats = unit.expand(B, V, 7).clone()
        for temperature, base in [(0.1, None), (0.5, 0.07), (2.0, 1.0), (0.05, 0.1)]:
            for variant in VARIANTS:
                for mode in CONTRAST_MODES:
                    per_anchor, info = supcon_loss(
                        feats, temperature=temperature, base_temperature=base, variant=variant,
                        contrast_mode=mode, denominator='all', reduction='none', **cfg,
                    )
                    scale = temperature / (base if base is not None else temperature)
                    want = math.log(N - 1) * scale
                    anchors = range(N) if mode == 'all' else range(B)
                    for m, i in enumerate(anchors):
                        got = per_anchor[m].item()
                        has_pos = (cfg_positive_count(cfg, B, V, i)) > 0
                        expected = want if has_pos else 0.0
                        if abs(got - expected) > 1e-9:
                            raise AssertionError(f'closed form {cfg} row {i}: got {got}, expected {expected}')
                        checked += 1
    print(f'closed form: {checked} anchors score log(N - 1) * scale (or 0 without positives)')


def check_capped_counts():
    """Identical features with a positives cap: every similarity is equal, so each loss is the log of a
    row count worked out by hand. labels (0,0,0,1,1,2), V = 2, cap 2 (k = 1): samples 0-2 keep one
    other positive sample (3 positive rows), lose one (2 rows, neither positive nor negative) and have
    6 negative rows; samples 3-4 keep their one (3 positive rows) with 8 negatives; sample 5 has only
    its own other view and 10 negatives."""
    feats = torch.full((6, 2, 3), 0.5, dtype=DTYPE)
    expected = {
        'all': [9, 9, 9, 11, 11, 11],  # positive rows + negative rows
        'only-negatives': [6, 6, 6, 8, 8, 10],  # negative rows
        'one-positive': [7, 7, 7, 9, 9, 11],  # one positive + negative rows
    }
    for denominator, counts in expected.items():
        for variant in VARIANTS:
            per_anchor, _ = supcon_loss(
                feats, labels=[0, 0, 0, 1, 1, 2], temperature=0.2, variant=variant, denominator=denominator,
                positives_cap=2, reduction='none',
            )
            want = [math.log(c) for c in counts] * 2
            for r, (got, w) in enumerate(zip(per_anchor.tolist(), want)):
                if abs(got - w) > 1e-9:
                    raise AssertionError(f'capped counts {variant}/{denominator} row {r}: got {got}, expected {w}')
    print('positives cap: hand-counted denominators match for all variants and denominators')


def cfg_positive_count(cfg, B, V, i):
    U = sample_matrix(B, cfg.get('labels'), cfg.get('multi_hot'), cfg.get('mask'))
    a = i % B
    return sum(1 for j in range(B * V) if j != i and U[a, j % B] > 0)


def check_gradients():
    """Autograd agrees with finite differences (torch.autograd.gradcheck) on a spread of options."""
    gen = torch.Generator().manual_seed(7)
    cases = [
        dict(labels=[0, 1, 0, 1, 2], variant='out', denominator='all', positives_cap=2),
        dict(labels=[0, 1, 0, 1, 2], variant='in', denominator='one-positive', contrast_mode='one'),
        dict(multi_hot=[[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [0, 1, 0]], variant='in', denominator='only-negatives'),
        dict(mask=torch.rand(5, 5, generator=gen, dtype=DTYPE).tolist(), variant='out', denominator='one-positive',
             reduction='sum'),
        dict(variant='out', denominator='all', temperature=0.05, base_temperature=0.07),
    ]
    for cfg in cases:
        feats = torch.randn(5, 2, 4, dtype=DTYPE, generator=gen)
        feats = (feats / feats.norm(dim=-1, keepdim=True)).requires_grad_(True)
        opts = dict(temperature=0.3, reduction='mean')
        opts.update(cfg)
        if not torch.autograd.gradcheck(lambda f: supcon_loss(f, **opts)[0], (feats,), eps=1e-6, atol=1e-6):
            raise AssertionError(f'gradcheck failed for {cfg}')
    print(f'gradients: autograd matches finite differences on {len(cases)} configurations')


def main():
    check_golden()
    check_closed_form()
    check_capped_counts()
    check_gradients()
    print('reference self-checks passed')


if __name__ == '__main__':
    try:
        main()
    except AssertionError as err:
        print(f'REFERENCE SELF-CHECK FAILED: {err}', file=sys.stderr)
        sys.exit(1)
