/**
 * Mixup and cutmix (train/mix.ts) and the soft-target cross-entropy they train with:
 *   - for a given λ, permutation and box, the mixed views, the soft targets (with label smoothing),
 *     the loss and its gradient in the logits, the cutmix box and its λ correction and the dominant
 *     labels equal a numpy float64 reference (fixtures/mix.json, /usr/bin/python3 reference/make_mix_fixture.py);
 *   - the Beta and Gamma draws have the right mean and variance (bounds of 5 standard errors);
 *   - drawMix is a pure function of (seed, iteration), honours the mixing probability and switches
 *     between mixup and cutmix half the time when both are set;
 *   - the config refuses α ≤ 0, supcon/simclr and a probability without a mix; the trainer mixes (the
 *     loss changes), resumes exactly, leaks no tensors, and the data-parallel trainer refuses mixing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  type BatchMix,
  cutmixBox,
  cutmixLambda,
  DataParallelTrainer,
  dominantLabels,
  drawMix,
  linearClassifier,
  logGamma,
  methodLoss,
  mixedTargets,
  mixImages,
  mlpEncoder,
  Random,
  resolveConfig,
  sampleBeta,
  type TrainConfig,
  Trainer,
} from 'supcon';
import { assertClose, quadrants } from './helpers.js';

interface Case {
  kind: 'mixup' | 'cutmix';
  lambda: number;
  lambda0?: number;
  centre?: [number, number];
  eps: number;
  box?: { top: number; bottom: number; left: number; right: number };
  mixed: number[];
  target: number[];
  loss: number;
  grad: number[];
  dominant: number[];
}

const fixture = JSON.parse(readFileSync(new URL('../test/fixtures/mix.json', import.meta.url), 'utf8')) as {
  views: number;
  shape: [number, number, number, number];
  classes: number;
  images: number[];
  logits: number[];
  labels: number[];
  permutation: number[];
  cases: Case[];
};

/** float32 against float64: |a − b| ≤ 1e-6 + 1e-5·|b|. */
const close = (actual: ArrayLike<number>, expected: readonly number[], what: string) =>
  assertClose(actual, expected, 1e-5, 1e-6, what);

const [rows, H, W] = fixture.shape;
const { views, classes } = fixture;
const labels = Int32Array.from(fixture.labels);

function mixOf(c: Case): BatchMix {
  const permutation = Int32Array.from(fixture.permutation);
  if (c.kind === 'mixup') return { kind: 'mixup', lambda: c.lambda, permutation };
  const box = cutmixBox(c.lambda0!, c.centre!, H, W);
  return { kind: 'cutmix', lambda: cutmixLambda(box, H, W), permutation, box };
}

for (const c of fixture.cases) {
  const name = `${c.kind} λ=${c.lambda0 ?? c.lambda}${c.centre ? ` centre ${c.centre}` : ''} ε=${c.eps}`;
  test(`${name}: box, λ, views, targets, loss and gradient equal the numpy reference`, () => {
    const mix = mixOf(c);
    if (c.kind === 'cutmix') {
      assert.deepEqual(mix.box, c.box);
      close([mix.lambda], [c.lambda], 'corrected λ');
    }
    const x = tf.tensor4d(fixture.images, fixture.shape);
    const mixed = mixImages(x, mix, views);
    assert.deepEqual(mixed.shape, fixture.shape);
    close(mixed.dataSync(), c.mixed, 'mixed views');
    close(mixedTargets(labels, views, classes, c.eps, mix), c.target, 'soft targets');
    assert.deepEqual(Array.from(dominantLabels(labels, mix)), c.dominant);
    const z = tf.variable(tf.tensor2d(fixture.logits, [rows, classes]), true, `mix-z-${Math.random()}`);
    const options = { temperature: 0.1, mix, ...(c.eps > 0 ? { labelSmoothing: c.eps } : {}) };
    const out = tf.variableGrads(
      () => methodLoss('ce', z as unknown as tf.Tensor2D, labels, views, options),
      [z],
    );
    close(out.value.dataSync(), [c.loss], 'loss');
    close(out.grads[z.name]!.dataSync(), c.grad, 'd loss / d logits');
    tf.dispose([x, mixed, z, out.value, ...Object.values(out.grads)]);
  });
}

test('a mix with λ = 1 is the unmixed cross-entropy (the fixture cases differ from each other)', () => {
  const z = tf.tensor2d(fixture.logits, [rows, classes]);
  const permutation = Int32Array.from(fixture.permutation);
  const mixed = methodLoss('ce', z, labels, views, {
    temperature: 0.1,
    labelSmoothing: 0.1,
    mix: { kind: 'mixup', lambda: 1, permutation },
  });
  const plain = methodLoss('ce', z, labels, views, { temperature: 0.1, labelSmoothing: 0.1 });
  close(mixed.dataSync(), Array.from(plain.dataSync()), 'λ = 1');
  assert.equal(new Set(fixture.cases.map((c) => c.loss)).size, fixture.cases.length);
  tf.dispose([z, mixed, plain]);
});

test('cutmix boxes: inside the image, area about 1 − λ away from the borders, λ corrected to the area', () => {
  const rng = new Random(5);
  for (let k = 0; k < 2000; k++) {
    const [h, w] = [rng.int(4, 40), rng.int(4, 40)];
    const lambda = rng.next();
    const centre: [number, number] = [rng.int(0, h), rng.int(0, w)];
    const box = cutmixBox(lambda, centre, h, w);
    assert.ok(box.top >= 0 && box.top <= box.bottom && box.bottom <= h, JSON.stringify(box));
    assert.ok(box.left >= 0 && box.left <= box.right && box.right <= w, JSON.stringify(box));
    const area = (box.bottom - box.top) * (box.right - box.left);
    assert.equal(cutmixLambda(box, h, w), 1 - area / (h * w));
    // Unclipped, the sides are ⌊h√(1 − λ)⌋ and ⌊w√(1 − λ)⌋.
    const r = Math.sqrt(1 - lambda);
    const inside = box.top > 0 && box.left > 0 && box.bottom < h && box.right < w;
    if (inside) assert.equal(area, Math.floor(h * r) * Math.floor(w * r), JSON.stringify({ h, w, lambda }));
    else assert.ok(area <= Math.floor(h * r) * Math.floor(w * r));
  }
});

/** Mean and variance of n draws. */
function moments(draw: () => number, n: number): { mean: number; variance: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < n; i++) {
    const v = draw();
    s += v;
    s2 += v * v;
  }
  const mean = s / n;
  return { mean, variance: s2 / n - mean * mean };
}

test('Beta(a, b) draws: mean a/(a+b) and variance ab/((a+b)²(a+b+1)) within 5 standard errors', () => {
  const n = 20000;
  const rng = new Random(17);
  for (const [a, b] of [
    [0.2, 0.2],
    [1, 1],
    [0.8, 0.8],
    [4, 4],
    [0.5, 3],
  ] as const) {
    const { mean, variance } = moments(() => sampleBeta(rng, a, b), n);
    const m = a / (a + b);
    const v = (a * b) / ((a + b) ** 2 * (a + b + 1));
    // On [0, 1] the fourth central moment is at most max(m, 1 − m)², which bounds the variance's error.
    const varError = Math.max(m, 1 - m) / Math.sqrt(n);
    assert.ok(Math.abs(mean - m) < 5 * Math.sqrt(v / n), `Beta(${a}, ${b}) mean ${mean}, expected ${m}`);
    assert.ok(Math.abs(variance - v) < 5 * varError, `Beta(${a}, ${b}) variance ${variance}, expected ${v}`);
  }
});

test('Gamma(k) draws (exp of logGamma): mean k and variance k, also for k < 1', () => {
  const n = 20000;
  const rng = new Random(23);
  for (const k of [0.3, 1, 2.5]) {
    const { mean, variance } = moments(() => Math.exp(logGamma(rng, k)), n);
    // Var of the sample variance: (μ4 − σ⁴)/n with μ4 = 3k² + 6k for Gamma(k).
    assert.ok(Math.abs(mean - k) < 5 * Math.sqrt(k / n), `Gamma(${k}) mean ${mean}`);
    const varError = Math.sqrt((3 * k * k + 6 * k - k * k) / n);
    assert.ok(Math.abs(variance - k) < 5 * varError, `Gamma(${k}) variance ${variance}`);
  }
});

test('drawMix: a pure function of (seed, iteration), a permutation of the batch, λ in [0, 1]', () => {
  const at = { seed: 4, iteration: 9, batch: 16, height: 8, width: 8 };
  const config = { method: 'ce' as const, mixupAlpha: 0.2, cutmixAlpha: 1 };
  const a = drawMix(config, at)!;
  assert.deepEqual(drawMix(config, at), a);
  assert.deepEqual(
    Array.from(a.permutation).sort((x, y) => x - y),
    [...Array(16).keys()],
  );
  const others = [drawMix(config, { ...at, iteration: 10 }), drawMix(config, { ...at, seed: 5 })];
  for (const b of others) assert.notDeepEqual(b, a);
  assert.equal(drawMix({ method: 'ce' }, at), undefined);
  for (let it = 0; it < 200; it++) {
    const m = drawMix(config, { ...at, iteration: it })!;
    assert.ok(m.lambda >= 0 && m.lambda <= 1);
    if (m.kind === 'cutmix') assert.equal(m.lambda, cutmixLambda(m.box!, 8, 8));
    else assert.equal(m.box, undefined);
  }
});

test('drawMix: mixProb is the share of mixed batches; both α switch kinds half the time', () => {
  const n = 4000;
  const at = (iteration: number) => ({ seed: 1, iteration, batch: 4, height: 8, width: 8 });
  const count = (config: Parameters<typeof drawMix>[0], pick: (m: BatchMix | undefined) => boolean) =>
    Array.from({ length: n }, (_, i) => drawMix(config, at(i))).filter(pick).length / n;
  const within = (share: number, p: number, what: string) =>
    assert.ok(Math.abs(share - p) < 5 * Math.sqrt((p * (1 - p)) / n), `${what}: ${share}, expected ${p}`);
  within(
    count({ method: 'ce', mixupAlpha: 1, mixProb: 0.3 }, (m) => m !== undefined),
    0.3,
    'mixed share',
  );
  within(
    count({ method: 'ce', mixupAlpha: 1, cutmixAlpha: 1 }, (m) => m?.kind === 'cutmix'),
    0.5,
    'cutmix share',
  );
  assert.equal(
    count({ method: 'ce', cutmixAlpha: 1 }, (m) => m?.kind === 'cutmix'),
    1,
    'cutmix alone',
  );
  // Beta(0.2, 0.2) puts most λ near 0 or 1: 2·I_0.1(0.2, 0.2) = 0.6734 (numpy quadrature of the density).
  const lambdas = Array.from(
    { length: n },
    (_, i) => drawMix({ method: 'ce', mixupAlpha: 0.2 }, at(i))!.lambda,
  );
  within(
    lambdas.filter((l) => l < 0.1 || l > 0.9).length / n,
    0.6734,
    'Beta(0.2, 0.2) mass outside [0.1, 0.9]',
  );
});

test('config: α > 0, ce only, mixProb in (0, 1] with a mix (1 not stored), each refused naming the field', () => {
  const c = resolveConfig({ method: 'ce', mixupAlpha: 0.2, cutmixAlpha: 1, mixProb: 0.5 });
  assert.deepEqual([c.mixupAlpha, c.cutmixAlpha, c.mixProb], [0.2, 1, 0.5]);
  assert.ok(!('mixProb' in resolveConfig({ method: 'ce', mixupAlpha: 0.2, mixProb: 1 })));
  assert.ok(!('mixupAlpha' in resolveConfig({ method: 'ce' })));
  for (const field of ['mixupAlpha', 'cutmixAlpha'] as const) {
    for (const bad of [0, -0.5, Number.NaN, Number.POSITIVE_INFINITY])
      assert.throws(
        () => resolveConfig({ method: 'ce', [field]: bad }),
        new RegExp(
          `argument \`${field}\`. Expected a finite Beta concentration α > 0 \\(absent: off\\). Received: ${field}=${bad}\\.`,
        ),
      );
    for (const method of ['supcon', 'simclr'] as const)
      assert.throws(
        () => resolveConfig({ method, [field]: 0.2 }),
        new RegExp(
          `\`${field}\`. Expected no value for the supcon and simclr methods \\(a mixed label defines no positives`,
        ),
      );
  }
  for (const bad of [0, 1.5, -1])
    assert.throws(
      () => resolveConfig({ method: 'ce', mixupAlpha: 1, mixProb: bad }),
      new RegExp(`\`mixProb\`. Expected a probability in \\(0, 1\\].*Received: mixProb=${bad}\\.`),
    );
  assert.throws(
    () => resolveConfig({ method: 'ce', mixProb: 0.5 }),
    /`mixProb`. Expected no value without mixupAlpha or cutmixAlpha/,
  );
});

/** Views scaled to [0, 1] with seeded pixel noise, one per image. */
function noisy(
  images: Uint8Array,
  count: number,
  o: { views: number; seed: number; epoch: number; indices: ArrayLike<number> },
) {
  const out = new Float32Array(count * o.views * 64);
  for (let i = 0; i < count; i++) {
    const r = new Random((o.seed * 7919 + o.epoch * 104729 + o.indices[i]!) >>> 0);
    for (let v = 0; v < o.views; v++)
      for (let j = 0; j < 64; j++)
        out[(i * o.views + v) * 64 + j] = images[i * 64 + j]! / 255 + 0.1 * r.next();
  }
  return out;
}

function ceTrainer(overrides: Partial<TrainConfig>) {
  const config = resolveConfig({ method: 'ce', epochs: 2, batchSize: 16, lr: 0.1, seed: 3, ...overrides });
  const encoder = mlpEncoder({ inputDim: 64, hidden: [16], seed: 3 });
  const head = linearClassifier({ inputDim: 16, classes: 4, seed: 3 });
  return new Trainer({ config, encoder, head, data: quadrants(64, 1), makeViews: noisy });
}

function disposeAll(t: Trainer): void {
  t.dispose();
  tf.dispose([...t.encoder.variables(), ...t.head.variables()].map((p) => p.variable));
}

function losses(overrides: Partial<TrainConfig>, stopAt?: number) {
  const t = ceTrainer(overrides);
  const out: number[] = [];
  t.run({
    afterStep: (r) => out.push(r.loss),
    ...(stopAt ? { stop: () => t.position.iteration === stopAt } : {}),
  });
  return { trainer: t, losses: out };
}

test('the trainer mixes: other losses than unmixed, and every option its own', () => {
  const runs = [
    {},
    { mixupAlpha: 0.4 },
    { cutmixAlpha: 1 },
    { mixupAlpha: 0.4, cutmixAlpha: 1, mixProb: 0.5 },
  ];
  const all = runs.map((o) => {
    const { trainer, losses: l } = losses(o);
    disposeAll(trainer);
    assert.ok(l.every(Number.isFinite));
    return l.join(',');
  });
  assert.equal(new Set(all).size, runs.length);
});

test('mixed training resumes exactly (the draws follow the iteration) and leaks no tensors', () => {
  const config = { mixupAlpha: 0.4, cutmixAlpha: 1, labelSmoothing: 0.1 };
  const full = losses(config);
  const fullState = full.trainer.state();
  disposeAll(full.trainer);
  const first = losses(config, 3);
  const saved = first.trainer.state();
  disposeAll(first.trainer);
  const second = ceTrainer(config);
  second.restore(saved);
  const before = tf.memory().numTensors;
  const rest: number[] = [];
  second.run({ afterStep: (r) => rest.push(r.loss) });
  assert.equal(tf.memory().numTensors, before, 'live tensors after the mixed steps');
  assert.deepEqual([...first.losses, ...rest], full.losses);
  const resumed = second.state();
  for (const [name, v] of Object.entries(fullState.variables))
    assert.deepEqual(resumed.variables[name]!.values, v.values, name);
  disposeAll(second);
});

test('the data-parallel trainer refuses mixing, naming the field', () => {
  const config = resolveConfig({ method: 'ce', epochs: 1, batchSize: 16, cutmixAlpha: 1 });
  const collectives = {
    rank: 0,
    size: 1,
    allGather: (v: Float32Array) => v,
    allReduceSum: (v: Float32Array) => v,
  };
  const encoder = mlpEncoder({ inputDim: 64, hidden: [16], seed: 3 });
  const head = linearClassifier({ inputDim: 16, classes: 4, seed: 3 });
  assert.throws(
    () => new DataParallelTrainer({ config, encoder, head, data: quadrants(32, 1), collectives }),
    /`cutmixAlpha`. Expected no value in data-parallel training/,
  );
  tf.dispose([...encoder.variables(), ...head.variables()].map((p) => p.variable));
});
