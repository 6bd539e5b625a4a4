#!/usr/bin/python3
"""Writes packages/supcon/test/fixtures/loss-cases.json: SupCon loss values and gradients from the
float64 reference (reference/supcon_reference.py), for the TypeScript tests.

    /usr/bin/python3 reference/make_loss_fixtures.py [--out PATH] [--seed 20260]

Seeded and deterministic: rerunning it rewrites the same file. Features (and masks, upstream
weights) are rounded to 10 significant digits BEFORE the loss is evaluated, so the stored values
are exact for the stored inputs. Losses and gradients come from torch autograd in float64.

Each case: {name, shape, features, [labels | multiHot | mask], options, loss, [upstream], grad,
anchorsWithoutPositives}. Options hold only what the case sets; an omitted option means its
default: temperature 0.1, baseTemperature = temperature, contrastMode 'all', variant 'out',
denominator 'all', positivesCap -1. reduction is always given; zeroPositives is always given when
it changes the result (reduction 'mean' with at least one invalid anchor).
"""

import argparse
import json
import math
import os
import random
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from supcon_reference import DTYPE, GOLDEN, GOLDEN_FEATURES, GOLDEN_LABELS, supcon_loss  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(REPO, 'packages', 'supcon', 'test', 'fixtures', 'loss-cases.json')
MAX_BYTES = 3_000_000

# Fixture option name -> reference keyword argument.
OPTION_KWARGS = {
    'temperature': 'temperature',
    'baseTemperature': 'base_temperature',
    'contrastMode': 'contrast_mode',
    'variant': 'variant',
    'denominator': 'denominator',
    'positivesCap': 'positives_cap',
    'zeroPositives': 'zero_positives',
    'reduction': 'reduction',
}


def r10(x):
    """Round to 10 significant digits (and make -0.0 plain 0)."""
    v = float(f'{x:.10g}')
    return 0.0 if v == 0 else v


class Builder:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.gen = torch.Generator().manual_seed(seed)
        self.cases = []

    # -- random inputs ------------------------------------------------------
    def features(self, shape, normalise=True, scale=1.0):
        x = torch.randn(*shape, dtype=DTYPE, generator=self.gen) * scale  # [B, V, ...]
        if normalise:
            flat = x.reshape(shape[0], shape[1], -1)  # [B, V, D]
            x = (flat / flat.norm(dim=-1, keepdim=True)).reshape(shape)
        return x

    def labels(self, batch, classes):
        return [self.rng.randrange(classes) for _ in range(batch)]

    def multi_hot(self, batch, classes, density=0.35):
        rows = []
        for _ in range(batch):
            row = [1 if self.rng.random() < density else 0 for _ in range(classes)]
            if not any(row):  # every sample carries at least one label
                row[self.rng.randrange(classes)] = 1
            rows.append(row)
        return rows

    def mask(self, batch, kind):
        """kind: 'binary-asym', 'weighted', 'zero-diag', 'empty-rows', 'zeros'."""
        m = [[0.0] * batch for _ in range(batch)]
        for a in range(batch):
            for s in range(batch):
                if kind == 'zeros':
                    continue
                if kind == 'weighted':
                    m[a][s] = round(self.rng.uniform(0.05, 2.0), 4) if self.rng.random() < 0.5 else 0.0
                else:
                    m[a][s] = 1.0 if self.rng.random() < 0.4 else 0.0
            if kind in ('binary-asym', 'weighted', 'empty-rows'):
                m[a][a] = m[a][a] if kind == 'weighted' else 1.0
            if kind == 'zero-diag':
                m[a][a] = 0.0
        if kind == 'empty-rows':
            for a in self.rng.sample(range(batch), max(1, batch // 3)):
                m[a] = [0.0] * batch
        if kind == 'binary-asym':  # make sure it really is asymmetric
            a, s = 0, batch - 1
            m[a][s], m[s][a] = 1.0, 0.0
        return m

    # -- one case -----------------------------------------------------------
    def add(self, name, feats, options, labels=None, multi_hot=None, mask=None, need_valid=False):
        """Evaluate and store one case. With need_valid, a draw where no anchor is valid (loss
        identically 0) is dropped and None returned, so the caller can draw again."""
        shape = list(feats.shape)
        feats = torch.tensor([r10(v) for v in feats.reshape(-1).tolist()], dtype=DTYPE).reshape(shape)
        feats.requires_grad_(True)
        kwargs = {OPTION_KWARGS[k]: v for k, v in options.items()}
        loss, info = supcon_loss(feats, labels=labels, multi_hot=multi_hot, mask=mask, **kwargs)
        if need_valid and info['valid_anchors'] == 0:
            return None
        case = {'name': name, 'shape': shape, 'features': [r10(v) for v in feats.detach().reshape(-1).tolist()]}
        if labels is not None:
            case['labels'] = [int(v) for v in labels]
        if multi_hot is not None:
            case['multiHot'] = {'shape': [len(multi_hot), len(multi_hot[0])], 'values': [int(v) for row in multi_hot for v in row]}
        if mask is not None:
            case['mask'] = {'shape': [len(mask), len(mask)], 'values': [r10(v) for row in mask for v in row]}
        case['options'] = dict(options)
        if options['reduction'] == 'none':
            upstream = [r10(self.rng.uniform(-1.0, 1.0)) for _ in range(loss.numel())]
            objective = (loss * torch.tensor(upstream, dtype=DTYPE)).sum()
            case['loss'] = [r10(v) for v in loss.tolist()]
            case['upstream'] = upstream
        else:
            objective = loss
            case['loss'] = r10(loss.item())
        if objective.requires_grad:
            (grad,) = torch.autograd.grad(objective, feats)
        else:  # no valid anchor: the loss is a constant 0 and does not depend on the features
            grad = torch.zeros_like(feats)
        case['grad'] = [r10(v) for v in grad.reshape(-1).tolist()]
        case['anchorsWithoutPositives'] = info['anchors_without_positives']
        # Internal bookkeeping for the coverage checks; stripped before writing.
        case['_info'] = dict(info, normalised=None)
        if options['reduction'] == 'mean' and info['valid_anchors'] != info['anchors']:
            assert 'zeroPositives' in options, f'{name}: zeroPositives changes this result and must be set'
        values = case['loss'] if isinstance(case['loss'], list) else [case['loss']]
        assert all(math.isfinite(v) for v in values + case['grad']), f'{name}: non-finite value'
        assert all(c['name'] != name for c in self.cases), f'duplicate case name {name}'
        self.cases.append(case)
        return case


def opts(reduction='mean', **kw):
    o = {k: v for k, v in kw.items() if v is not None}
    o['reduction'] = reduction
    return o


def build(seed):
    b = Builder(seed)
    R = b.rng
    variants, denominators, modes = ['out', 'in'], ['all', 'one-positive', 'only-negatives'], ['all', 'one']
    reductions = ['mean', 'sum', 'none']

    # 1. The six golden cells of the official TensorFlow tests (unnormalised, tau = 1, labels 0,0,1).
    golden = torch.tensor(GOLDEN_FEATURES, dtype=DTYPE)
    for variant, denominator in GOLDEN:
        b.add(f'golden-{variant}-{denominator}', golden,
              opts('none', temperature=1, variant=variant, denominator=denominator), labels=GOLDEN_LABELS)
    b.add('golden-mean-default-form', golden, opts('mean', temperature=1), labels=GOLDEN_LABELS)

    # 2. Full grid of form x denominator x anchors x reduction, labels, V = 2, normalised.
    for variant in variants:
        for denominator in denominators:
            for mode in modes:
                for reduction in reductions:
                    B, D = R.choice([6, 8, 10]), R.choice([8, 16])
                    b.add(f'grid-{variant}-{denominator}-{mode}-{reduction}', b.features([B, 2, D]),
                          opts(reduction, temperature=0.1, contrastMode=mode, variant=variant,
                               denominator=denominator, zeroPositives='exclude'),
                          labels=b.labels(B, 3))

    # 3. Views 1-4 with labels (V = 1 leaves singleton-label samples without positives).
    for V in [1, 2, 3, 4]:
        for denominator in denominators:
            for variant in variants:
                B = R.choice([4, 6, 8]) if V > 2 else R.choice([6, 9, 12])
                zp = R.choice(['exclude', 'zero'])
                b.add(f'views{V}-{variant}-{denominator}', b.features([B, V, R.choice([4, 12, 32])]),
                      opts(R.choice(['mean', 'mean', 'none']), temperature=R.choice([0.1, 0.5]), variant=variant,
                           denominator=denominator, zeroPositives=zp),
                      labels=b.labels(B, R.choice([2, 4])))

    # 4. Positives cap 0, V, 2V (labels unless noted).
    for V in [1, 2, 3]:
        for k in [0, 1, 2]:
            for variant, denominator in [('out', 'all'), (R.choice(variants), R.choice(denominators))]:
                B = R.choice([6, 8, 10])
                name = f'cap{k}V-views{V}-{variant}-{denominator}'
                while any(c['name'] == name for c in b.cases):
                    name += '-b'
                b.add(name, b.features([B, V, R.choice([6, 16])]),
                      opts(R.choice(reductions), temperature=R.choice([0.1, 0.2]), variant=variant,
                           denominator=denominator, positivesCap=k * V, zeroPositives=R.choice(['exclude', 'zero']),
                           contrastMode=R.choice(['all', 'all', 'one'])),
                      labels=b.labels(B, 2))
    for k in [0, 1, 2]:
        B = 8
        b.add(f'cap{k}V-mask-weighted', b.features([B, 2, 8]),
              opts('none', temperature=0.2, positivesCap=2 * k, variant=R.choice(variants)), mask=b.mask(B, 'weighted'))
        b.add(f'cap{k}V-multihot', b.features([B, 2, 8]),
              opts('mean', temperature=0.1, positivesCap=2 * k, denominator=R.choice(denominators),
                   zeroPositives='exclude'), multi_hot=b.multi_hot(B, 4))
    b.add('cap-none-explicit', b.features([8, 2, 8]), opts('mean', temperature=0.1, positivesCap=-1),
          labels=b.labels(8, 2))

    # 5. Masks: asymmetric binary, weighted (non-binary), zero diagonal, empty rows, all zero.
    for kind in ['binary-asym', 'weighted', 'zero-diag', 'empty-rows']:
        for variant in variants:
            for denominator in denominators:
                B = R.choice([4, 6, 8])
                V = R.choice([1, 2, 2, 3]) if kind != 'zero-diag' else R.choice([1, 2])
                b.add(f'mask-{kind}-{variant}-{denominator}', b.features([B, V, R.choice([3, 8, 16])]),
                      opts(R.choice(reductions), temperature=R.choice([0.1, 0.5, 1]), variant=variant,
                           denominator=denominator, contrastMode=R.choice(modes),
                           zeroPositives=R.choice(['exclude', 'zero'])),
                      mask=b.mask(B, kind))
    for zp in ['exclude', 'zero']:
        b.add(f'mask-all-zero-mean-{zp}', b.features([4, 2, 5]), opts('mean', temperature=0.1, zeroPositives=zp),
              mask=b.mask(4, 'zeros'))
    b.add('mask-all-zero-none', b.features([4, 2, 5]), opts('none', temperature=0.1), mask=b.mask(4, 'zeros'))

    # 6. Multi-hot labels.
    for variant in variants:
        for denominator in denominators:
            B = R.choice([6, 8, 12])
            b.add(f'multihot-{variant}-{denominator}', b.features([B, 2, R.choice([8, 16, 32])]),
                  opts(R.choice(reductions), temperature=0.1, variant=variant, denominator=denominator,
                       contrastMode=R.choice(modes), zeroPositives='exclude'),
                  multi_hot=b.multi_hot(B, R.choice([3, 5])))
    b.add('multihot-one-hot-equals-labels', b.features([6, 2, 8]), opts('none', temperature=0.1),
          multi_hot=[[1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]])

    # 7. SimCLR (no labels, no mask).
    for V in [1, 2, 3, 4]:
        for variant, denominator in [('out', 'all'), (R.choice(variants), R.choice(denominators))]:
            B = R.choice([4, 8, 12]) if V < 4 else 6
            name = f'simclr-views{V}-{variant}-{denominator}'
            while any(c['name'] == name for c in b.cases):
                name += '-b'
            b.add(name, b.features([B, V, R.choice([8, 16, 32])]),
                  opts(R.choice(reductions), temperature=0.5, variant=variant, denominator=denominator,
                       contrastMode=R.choice(modes), zeroPositives=R.choice(['exclude', 'zero'])))

    # 8. Anchors without positives / invalid anchors, both zeroPositives policies.
    for zp in ['exclude', 'zero']:
        for reduction in reductions:
            b.add(f'nopos-views1-unique-labels-{reduction}-{zp}', b.features([5, 1, 8]),
                  opts(reduction, temperature=0.1, zeroPositives=zp), labels=[0, 1, 2, 3, 4])
            b.add(f'nopos-views1-some-singletons-{reduction}-{zp}', b.features([8, 1, 8]),
                  opts(reduction, temperature=0.1, zeroPositives=zp), labels=[0, 0, 1, 2, 2, 2, 3, 4])
        for variant in variants:
            b.add(f'nonegatives-one-class-only-negatives-{variant}-{zp}', b.features([4, 2, 6]),
                  opts('mean', temperature=0.1, variant=variant, denominator='only-negatives', zeroPositives=zp),
                  labels=[3, 3, 3, 3])
        b.add(f'nopos-empty-mask-rows-one-mode-{zp}', b.features([6, 2, 8]),
              opts('mean', temperature=0.2, contrastMode='one', zeroPositives=zp), mask=b.mask(6, 'empty-rows'))
        b.add(f'nopos-cap0-views1-{zp}', b.features([6, 1, 8]),
              opts('mean', temperature=0.1, positivesCap=0, zeroPositives=zp), labels=[0, 0, 1, 1, 2, 2])
    b.add('one-class-all-denominator', b.features([5, 2, 8]), opts('none', temperature=0.1), labels=[1] * 5)

    # 9. Temperatures and base temperatures.
    for tau in [0.05, 0.1, 0.5, 1, 2]:
        for base in [None, R.choice([0.07, 0.5, 1.0])]:
            if base == tau:
                base = 0.07
            B = R.choice([6, 8])
            b.add(f'temp{tau}-base{base}', b.features([B, 2, 16]),
                  opts(R.choice(reductions), temperature=tau, baseTemperature=base, variant=R.choice(variants),
                       denominator=R.choice(denominators), zeroPositives='exclude'),
                  labels=b.labels(B, 3))
    b.add('temp-default', b.features([6, 2, 8]), opts('mean'), labels=b.labels(6, 2))
    b.add('temp-default-base0.07', b.features([6, 2, 8]), opts('none', baseTemperature=0.07), labels=b.labels(6, 2))

    # 10. Rank-4 features ([B, V, d1, d2] flattened to D = d1 * d2).
    for i, tail in enumerate([[1, 2], [2, 4], [4, 4], [2, 8], [4, 8], [3, 5]]):
        B, V = R.choice([3, 6, 8]), R.choice([1, 2, 3])
        b.add(f'rank4-{i}-tail{tail[0]}x{tail[1]}', b.features([B, V] + tail),
              opts(R.choice(reductions), temperature=R.choice([0.1, 0.5]), variant=R.choice(variants),
                   denominator=R.choice(denominators), contrastMode=R.choice(modes),
                   zeroPositives=R.choice(['exclude', 'zero'])),
              labels=b.labels(B, 3))

    # 11. Unnormalised features (used as given).
    for i in range(6):
        case = None
        while case is None:
            B, V = R.choice([4, 6, 8]), R.choice([1, 2, 3])
            tau = R.choice([0.5, 1, 2])
            case = b.add(f'unnormalised-{i}', b.features([B, V, R.choice([2, 3, 8])], normalise=False, scale=0.6),
                         opts(R.choice(reductions), temperature=tau, variant=R.choice(variants),
                              denominator=R.choice(denominators), contrastMode=R.choice(modes),
                              zeroPositives=R.choice(['exclude', 'zero'])),
                         labels=b.labels(B, 2), need_valid=True)

    # 12. Small and degenerate shapes, identical features.
    b.add('batch2-views2', b.features([2, 2, 2]), opts('none', temperature=0.1), labels=[0, 1])
    b.add('batch2-same-label-in', b.features([2, 2, 3]), opts('mean', temperature=0.1, variant='in'), labels=[4, 4])
    unit = b.features([1, 1, 8])[0, 0]
    b.add('identical-features-closed-form', unit.expand(4, 2, 8).clone(),
          opts('none', temperature=0.1, baseTemperature=0.07), labels=[0, 1, 0, 2])
    b.add('identical-features-in-only-negatives', unit.expand(5, 3, 8).clone(),
          opts('mean', temperature=0.5, variant='in', denominator='only-negatives', zeroPositives='exclude'),
          labels=[0, 1, 0, 2, 2])

    # 13. Random mixtures of everything to fill the space.
    for i in range(60):
        case = None
        while case is None:  # redraw mixtures where no anchor is valid
            B, V = R.randint(2, 12), R.randint(1, 4)
            rank4 = R.random() < 0.25
            tail = [R.choice([1, 2, 4]), R.choice([2, 4, 8])] if rank4 else [R.choice([2, 3, 5, 8, 16, 24, 32])]
            normalise = R.random() < 0.85
            tau = R.choice([0.05, 0.1, 0.1, 0.5, 1, 2]) if normalise else R.choice([0.5, 1, 2])
            o = opts(R.choice(reductions), temperature=tau,
                     baseTemperature=R.choice([None, None, 0.07, 1.0]),
                     contrastMode=R.choice([None, 'all', 'one']), variant=R.choice([None, 'out', 'in']),
                     denominator=R.choice([None, 'all', 'one-positive', 'only-negatives']),
                     positivesCap=R.choice([None, None, 0, V, 2 * V]),
                     zeroPositives=R.choice(['exclude', 'zero']))
            if o.get('baseTemperature') == tau:
                del o['baseTemperature']
            source = R.choice(['labels', 'labels', 'multihot', 'mask', 'mask', 'simclr'])
            kw = {}
            if source == 'labels':
                kw['labels'] = b.labels(B, R.randint(1, max(1, B)))
            elif source == 'multihot':
                kw['multi_hot'] = b.multi_hot(B, R.randint(2, 6))
            elif source == 'mask':
                kw['mask'] = b.mask(B, R.choice(['binary-asym', 'weighted', 'zero-diag', 'empty-rows']))
            case = b.add(f'random-{i:02d}-{source}', b.features([B, V] + tail, normalise=normalise, scale=0.7), o,
                         need_valid=True, **kw)
    return b.cases


def check_coverage(cases):
    """Fail loudly if the fixture set lost a feature the brief asks to cover."""
    def has(pred):
        return any(pred(c) for c in cases)

    o = lambda c, k, d=None: c['options'].get(k, d)  # noqa: E731
    required = {
        'views 1-4': all(has(lambda c, v=v: c['shape'][1] == v) for v in [1, 2, 3, 4]),
        'rank 3 and 4': has(lambda c: len(c['shape']) == 3) and has(lambda c: len(c['shape']) == 4),
        'both contrast modes': has(lambda c: o(c, 'contrastMode', 'all') == 'one'),
        'both variants': has(lambda c: o(c, 'variant') == 'in'),
        'three denominators': all(has(lambda c, d=d: o(c, 'denominator', 'all') == d) for d in
                                  ['all', 'one-positive', 'only-negatives']),
        'caps 0, V, 2V with labels': all(
            has(lambda c, k=k: 'labels' in c and o(c, 'positivesCap') == k * c['shape'][1]) for k in [0, 1, 2]),
        'caps with masks': has(lambda c: 'mask' in c and o(c, 'positivesCap', -1) >= 0),
        'asymmetric mask': has(lambda c: 'mask' in c and _asym(c['mask'])),
        'weighted mask': has(lambda c: 'mask' in c and any(v not in (0.0, 1.0) for v in c['mask']['values'])),
        'zero-diagonal mask': has(lambda c: 'mask' in c and _diag_zero(c['mask'])),
        'multi-hot': has(lambda c: 'multiHot' in c),
        'SimCLR': has(lambda c: not any(k in c for k in ('labels', 'multiHot', 'mask'))),
        'zero positives exclude/zero with invalid anchors': all(
            has(lambda c, z=z: o(c, 'zeroPositives') == z and c['anchorsWithoutPositives'] > 0
                and o(c, 'reduction') == 'mean') for z in ['exclude', 'zero']),
        'all reductions': all(has(lambda c, r=r: o(c, 'reduction') == r) for r in ['mean', 'sum', 'none']),
        'temperatures': all(has(lambda c, t=t: o(c, 'temperature') == t) for t in [0.05, 0.1, 0.5, 1, 2]),
        'base temperature differs': has(lambda c: 'baseTemperature' in c['options']),
        'golden cells': sum(c['name'].startswith('golden-') for c in cases) >= 6,
    }
    missing = [k for k, ok in required.items() if not ok]
    if missing:
        raise AssertionError(f'fixture coverage lost: {missing}')
    dims = [math.prod(c['shape'][2:]) for c in cases]
    batches = [c['shape'][0] for c in cases]
    assert min(dims) <= 2 and max(dims) >= 32 and min(batches) <= 2 and max(batches) >= 12, 'dim/batch range'


def _asym(mask):
    n, v = mask['shape'][0], mask['values']
    return any(v[a * n + s] != v[s * n + a] for a in range(n) for s in range(n))


def _diag_zero(mask):
    n, v = mask['shape'][0], mask['values']
    return all(v[a * n + a] == 0 for a in range(n)) and any(v)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--out', default=DEFAULT_OUT)
    parser.add_argument('--seed', type=int, default=20260)
    args = parser.parse_args()

    cases = build(args.seed)
    for c in cases:
        del c['_info']
    check_coverage(cases)
    text = '[\n' + ',\n'.join(json.dumps(c, separators=(',', ':')) for c in cases) + '\n]\n'
    if len(text) > MAX_BYTES:
        raise AssertionError(f'fixtures are {len(text)} bytes, over the {MAX_BYTES} budget')
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = f'{args.out}.{os.getpid()}.tmp'
    with open(tmp, 'w') as fh:
        fh.write(text)
    os.replace(tmp, args.out)
    n_none = sum(isinstance(c['loss'], list) for c in cases)
    n_nopos = sum(c['anchorsWithoutPositives'] > 0 for c in cases)
    print(f'wrote {len(cases)} cases ({n_none} with reduction none, {n_nopos} with anchors without positives), '
          f'{len(text) / 1e6:.2f} MB -> {os.path.relpath(args.out, REPO)}')


if __name__ == '__main__':
    main()
