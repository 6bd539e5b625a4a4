/**
 * The ViT encoder (models/vit.ts, models/transformer_ops.ts, export/vit_layers.ts):
 *   - parameter counts of the presets equal a plain torch.nn ViT's (reference/vit_param_counts.py);
 *   - LayerNorm, GELU (exact and tanh), attention, multi-head self-attention and a whole tiny ViT
 *     (both pools) equal float64 PyTorch in value and gradient within 1e-5
 *     (fixtures/vit-cases.json, reference/make_vit_fixtures.py);
 *   - output shapes, the seeded initialisation, bad options as one sentence naming the field;
 *   - a few gradient steps without leaking tensors; the layers export loads back through the
 *     registered custom layers and predicts what the encoder computes.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  attention,
  checkEncoderSpec,
  createEncoder,
  createHead,
  type EncoderSpec,
  gelu,
  HEAD_DEFAULTS,
  layerNorm,
  layersModelFiles,
  layersModelFromFiles,
  multiHeadSelfAttention,
  type Network,
  toLayersModel,
  VIT_PRESETS,
  type VitSize,
  type VitSpec,
  vitEncoder,
} from 'supcon';
import { assertClose } from './helpers.js';

interface Fixed {
  shape: number[];
  values: number[];
}
const fixtures = (name: string) =>
  JSON.parse(readFileSync(new URL(`../test/fixtures/${name}`, import.meta.url), 'utf8'));
const cases = fixtures('vit-cases.json');
const t = (f: Fixed) => tf.tensor(f.values, f.shape);
const TOL = 1e-5;
const close = (actual: tf.Tensor, expected: Fixed, what: string) => {
  assert.deepEqual(actual.shape, expected.shape, `${what}: shape`);
  assertClose(actual.dataSync(), expected.values, TOL, TOL, what);
};
const free = (...nets: Network[]) => tf.dispose(nets.flatMap((n) => n.variables().map((p) => p.variable)));
const count = (n: Network) => n.parameters().reduce((s, p) => s + p.variable.size, 0);
const tiny: VitSize = { patch: 7, dim: 16, depth: 1, heads: 2, mlpRatio: 2, pool: 'cls', gelu: 'none' };

test('preset parameter counts equal the torch.nn ViT of reference/vit_param_counts.py', () => {
  const reference = fixtures('vit-param-counts.json') as {
    cases: {
      preset: keyof typeof VIT_PRESETS;
      inputShape: [number, number, number];
      pool: 'cls' | 'mean';
      parameters: number;
    }[];
  };
  assert.equal(reference.cases.length, 5);
  for (const c of reference.cases) {
    const enc = vitEncoder({ ...VIT_PRESETS[c.preset], pool: c.pool, inputShape: c.inputShape, seed: 1 });
    assert.equal(count(enc), c.parameters, `${c.preset} on ${c.inputShape.join('×')}, pool ${c.pool}`);
    assert.equal(enc.outputDim, VIT_PRESETS[c.preset].dim);
    free(enc);
  }
});

test('the presets have the token counts and output shapes they promise', () => {
  const tokens = (shape: [number, number, number], forward: boolean) => {
    const enc = vitEncoder({ ...VIT_PRESETS['vit-tiny'], inputShape: shape, seed: 0 });
    const pos = enc.weights.posEmbed.shape[0]!;
    if (forward) {
      // One image: vit-tiny's forward is about 1 s on the pure-JS cpu backend.
      const x = tf.randomNormal([1, ...shape], 0, 1, 'float32', 4);
      const y = enc.apply(x, false);
      assert.deepEqual(y.shape, [1, 192]);
      tf.dispose([x, y]);
    }
    free(enc);
    return pos - 1; // without the class token
  };
  assert.equal(tokens([28, 28, 1], true), 49);
  assert.equal(tokens([32, 32, 3], false), 64);
  const small = vitEncoder({ ...tiny, inputShape: [28, 28, 1], seed: 0 });
  const x = tf.randomNormal([5, 28, 28, 1], 0, 1, 'float32', 4);
  const y = small.apply(x, false);
  assert.deepEqual(y.shape, [5, 16]);
  assert.equal(small.outputDim, 16);
  tf.dispose([x, y]);
  free(small);
});

test('layerNorm equals torch in value and gradient', () => {
  const c = cases.layerNorm;
  const [x, gamma, beta, r] = [t(c.x), t(c.gamma), t(c.beta), t(c.r)];
  close(layerNorm(x, gamma, beta, cases.epsilon), c.y, 'layerNorm');
  const [dx, dgamma, dbeta] = tf.grads((a, g, b) => tf.sum(tf.mul(layerNorm(a!, g!, b!, cases.epsilon), r)))([
    x,
    gamma,
    beta,
  ]);
  close(dx!, c.dx, 'dx');
  close(dgamma!, c.dgamma, 'dgamma');
  close(dbeta!, c.dbeta, 'dbeta');
});

test('gelu, exact and tanh, equals torch in value and gradient (and the two differ)', () => {
  for (const approximate of ['none', 'tanh'] as const) {
    const c = cases.gelu[approximate];
    const [x, r] = [t(c.x), t(c.r)];
    close(gelu(x, approximate), c.y, `gelu ${approximate}`);
    const dx = tf.grad((a) => tf.sum(tf.mul(gelu(a, approximate), r)))(x);
    close(dx, c.dx, `gelu ${approximate} dx`);
  }
  const x = t(cases.gelu.none.x);
  const gap = tf.max(tf.abs(tf.sub(gelu(x, 'none'), gelu(x, 'tanh')))).dataSync()[0]!;
  assert.ok(gap > 1e-4, `the approximation is not the exact GELU (max gap ${gap})`);
});

test('attention equals softmax(q kᵀ/√d) v from torch in value and gradient', () => {
  const c = cases.attention;
  const [q, k, v, r] = [t(c.q), t(c.k), t(c.v), t(c.r)].map((x) => x as tf.Tensor4D);
  close(attention(q!, k!, v!), c.y, 'attention');
  const grads = tf.grads((a, b, d) =>
    tf.sum(tf.mul(attention(a as tf.Tensor4D, b as tf.Tensor4D, d as tf.Tensor4D), r!)),
  )([q!, k!, v!]);
  for (const [i, name] of ['dq', 'dk', 'dv'].entries()) close(grads[i]!, c[name], name);
});

test('multi-head self-attention equals torch.nn.MultiheadAttention in value and gradient', () => {
  const c = cases.selfAttention;
  const names = ['qkvKernel', 'qkvBias', 'projKernel', 'projBias'] as const;
  const [x, r] = [t(c.x) as tf.Tensor3D, t(c.r)];
  const w = names.map((n) => t(c.weights[n]));
  const run = (input: tf.Tensor, ...p: tf.Tensor[]) =>
    multiHeadSelfAttention(
      input as tf.Tensor3D,
      { qkvKernel: p[0]!, qkvBias: p[1]!, projKernel: p[2]!, projBias: p[3]! },
      c.heads,
    );
  close(run(x, ...w), c.y, 'self-attention');
  const grads = tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(run(args[0]!, ...args.slice(1)), r)))([
    x,
    ...w,
  ]);
  close(grads[0]!, c.dx, 'dx');
  for (const [i, n] of names.entries()) close(grads[i + 1]!, c.grads[n], `d${n}`);
});

/** A tiny ViT of the fixture's size with torch's weights copied in by name. */
function fixtureVit(c: { size: VitSize; weights: Record<string, Fixed> }) {
  const enc = vitEncoder({ ...c.size, inputShape: [4, 4, 3], seed: 0 });
  const ours = enc.parameters().map((p) => p.name);
  assert.deepEqual([...ours].sort(), Object.keys(c.weights).sort(), 'the same parameters as the torch ViT');
  for (const p of enc.parameters()) p.variable.assign(t(c.weights[p.name]!));
  return enc;
}

test('a whole ViT (cls and mean pooling) equals the torch.nn ViT in features and every gradient', () => {
  for (const pool of ['cls', 'mean'] as const) {
    const c = cases.vit[pool];
    assert.equal(c.size.pool, pool);
    const enc = fixtureVit(c);
    const images = t(c.images);
    close(enc.apply(images, false), c.y, `${pool}: features`);
    const r = t(c.r);
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.mul(enc.apply(images, true), r)) as tf.Scalar,
      enc.parameters().map((p) => p.variable),
    );
    for (const p of enc.parameters()) close(grads[p.variable.name]!, c.grads[p.name], `${pool}: d${p.name}`);
    free(enc);
  }
});

test('cls and mean pooling are different encoders: class token or not, different features', () => {
  const images = t(cases.vit.cls.images);
  const cls = fixtureVit(cases.vit.cls);
  const mean = fixtureVit(cases.vit.mean);
  assert.ok(cls.parameters().some((p) => p.name === 'cls_token'));
  assert.ok(!mean.parameters().some((p) => p.name === 'cls_token'));
  assert.equal(cls.weights.posEmbed.shape[0], mean.weights.posEmbed.shape[0]! + 1);
  // The same weights but for the token: mean pooling is not the class token's row.
  for (const p of mean.parameters())
    if (p.name !== 'pos_embed') p.variable.assign(cls.parameters().find((q) => q.name === p.name)!.variable);
  const gap = tf.max(tf.abs(tf.sub(cls.apply(images, false), mean.apply(images, false)))).dataSync()[0]!;
  assert.ok(gap > 1e-3, `pools differ (max gap ${gap})`);
  free(cls, mean);
});

test('the seeded initialisation is deterministic and depends on the seed', () => {
  const build = (seed: number) => vitEncoder({ ...tiny, inputShape: [28, 28, 1], seed });
  const [a, b, c] = [build(5), build(5), build(6)];
  const snapshot = (n: Network) =>
    n.variables().map((p) => ({ name: p.name, values: Array.from(p.variable.dataSync()) }));
  assert.deepEqual(snapshot(a), snapshot(b));
  assert.notDeepEqual(snapshot(a), snapshot(c));
  // Every random weight is random (not a constant), LayerNorms start at the identity, biases at zero.
  for (const p of a.parameters()) {
    const v = Array.from(p.variable.dataSync());
    const distinct = new Set(v).size;
    if (p.name.endsWith('gamma'))
      assert.ok(
        v.every((x) => x === 1),
        p.name,
      );
    else if (p.name.endsWith('beta') || (p.name.endsWith('bias') && !p.name.startsWith('patch')))
      assert.ok(
        v.every((x) => x === 0),
        p.name,
      );
    else assert.ok(distinct > v.length / 2, `${p.name} is random`);
  }
  // Truncated normal, std 0.02: |w| ≤ 2σ.
  assert.ok(Math.max(...Array.from(a.weights.posEmbed.dataSync(), Math.abs)) <= 0.04 + 1e-7);
  free(a, b, c);
});

test('bad options are one sentence naming the field, the expectation and the value', () => {
  const spec = (over: Partial<VitSpec>): VitSpec => ({ kind: 'vit', ...tiny, ...over });
  const refuse = (s: VitSpec, pattern: RegExp) =>
    assert.throws(() => checkEncoderSpec(s, 'model.encoder'), pattern);
  refuse(
    spec({ dim: 16, heads: 3 }),
    /^InvalidArgumentError: Invalid value for argument `model\.encoder\.heads`\. Expected a divisor of dim=16 \(each head gets dim \/ heads channels\)\. Received: model\.encoder\.heads=3\.$/,
  );
  refuse(
    spec({ depth: 0 }),
    /`model\.encoder\.depth`\. Expected a positive integer\. Received: model\.encoder\.depth=0\./,
  );
  refuse(
    spec({ mlpRatio: 0.3 }),
    /`model\.encoder\.mlpRatio`\. Expected a positive number with mlpRatio·dim \(dim=16\).*=0\.3\./,
  );
  refuse(
    spec({ pool: 'max' as 'cls' }),
    /`model\.encoder\.pool`\. Expected "cls" or "mean"\. Received: model\.encoder\.pool="max"\./,
  );
  refuse(spec({ gelu: 'erf' as 'none' }), /`model\.encoder\.gelu`\. Expected "none" \(exact\) or "tanh"/);
  refuse(
    { ...spec({}), window: 7 } as VitSpec,
    /`model\.encoder\.window`\. Expected no such key: a vit has only the keys kind, patch, dim, depth, heads, mlpRatio, pool, gelu/,
  );
  // The patch against the image: known only when the encoder is built.
  assert.throws(
    () => createEncoder(spec({ patch: 5 }), { inputShape: [28, 28, 1], seed: 0 }),
    /^InvalidArgumentError: Invalid value for argument `encoder\.patch`\. Expected a divisor of the image's height and width \(28×28\)\. Received: encoder\.patch=5\.$/,
  );
  assert.throws(
    () => vitEncoder({ ...tiny, heads: 5, inputShape: [28, 28, 1] }),
    /argument `heads`\. Expected a divisor of dim=16/,
  );
  assert.throws(
    () => vitEncoder({ ...tiny, inputShape: [28, 28] as never }),
    /argument `inputShape`\. Expected \[height, width, channels\] of positive integers\. Received: inputShape=\[28, 28\]/,
  );
});

test('gradient steps change every weight and leak no tensors', () => {
  const enc = createEncoder(
    { kind: 'vit', ...tiny, pool: 'mean', gelu: 'tanh' },
    { inputShape: [28, 28, 1], seed: 2 },
  );
  const x = tf.randomNormal([3, 28, 28, 1], 0, 1, 'float32', 8);
  const before = enc.parameters().map((p) => p.variable.clone());
  let live = 0;
  for (let step = 0; step < 3; step++) {
    tf.tidy(() => {
      const { grads } = tf.variableGrads(
        () => tf.sum(tf.square(enc.apply(x, true))) as tf.Scalar,
        enc.parameters().map((p) => p.variable),
      );
      for (const p of enc.parameters())
        p.variable.assign(tf.sub(p.variable, tf.mul(grads[p.variable.name]!, 0.01)));
    });
    if (step === 0) live = tf.memory().numTensors;
    else assert.equal(tf.memory().numTensors, live, `step ${step}: live tensors`);
  }
  for (const [i, p] of enc.parameters().entries())
    assert.ok(tf.max(tf.abs(tf.sub(p.variable, before[i]!))).dataSync()[0]! > 0, `${p.name} moved`);
  tf.dispose([x, ...before]);
  free(enc);
});

test('an exported ViT (with and without a head) loads through the registered layers and predicts the same', async () => {
  const variants: [VitSize, boolean][] = [
    [tiny, false],
    [{ ...tiny, pool: 'mean', gelu: 'tanh', depth: 2 }, true],
  ];
  for (const [size, withHead] of variants) {
    const spec: EncoderSpec = { kind: 'vit', ...size };
    const enc = createEncoder(spec, { inputShape: [28, 28, 1], seed: 3 });
    // Non-trivial LayerNorms, biases and class token so no layer is an identity.
    for (const p of enc.parameters())
      p.variable.assign(tf.add(p.variable, tf.randomUniform(p.variable.shape, -0.3, 0.3, 'float32', 11)));
    const head = createHead(HEAD_DEFAULTS.projection, { inputDim: enc.outputDim, classes: 10, seed: 4 });
    const model = toLayersModel({
      inputShape: [28, 28, 1],
      encoder: spec,
      encoderWeights: enc.variables(),
      ...(withHead ? { head: { spec: HEAD_DEFAULTS.projection, weights: head.variables() } } : {}),
    });
    const { modelJson, weights } = await layersModelFiles(model);
    const json = JSON.parse(JSON.stringify(modelJson));
    const classes = new Set(
      (json.modelTopology.config.layers as { class_name: string }[]).map((l) => l.class_name),
    );
    for (const name of ['SupconTokens', 'SupconLayerNorm', 'SupconSelfAttention', 'SupconGelu'])
      assert.ok(classes.has(name), `model.json has a ${name} layer`);
    const loaded = await layersModelFromFiles(json, weights);
    const x = tf.randomNormal([4, 28, 28, 1], 0, 1, 'float32', 9);
    const features = enc.apply(x, false);
    const ours = withHead ? head.apply(features, false) : features;
    const theirs = loaded.predict(x) as tf.Tensor;
    assert.deepEqual(theirs.shape, ours.shape);
    assertClose(
      theirs.dataSync(),
      ours.dataSync(),
      TOL,
      TOL,
      `export ${size.pool}${withHead ? ' + head' : ''}`,
    );
    tf.dispose([x, features, ours, theirs]);
    model.dispose();
    loaded.dispose();
    free(enc, head);
  }
});
