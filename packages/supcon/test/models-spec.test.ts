/**
 * The one model description (models/spec.ts): every kind of encoder and head builds from its spec
 * to the same network as its factory (same variables, same values for a seed), the defaults are
 * the factories' defaults, bad specs are one sentence naming the field under the given path, and
 * the layers export takes the same spec.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  checkEncoderSpec,
  checkHeadSpec,
  checkModelSpec,
  createEncoder,
  createHead,
  ENCODER_DEFAULTS,
  type EncoderSpec,
  HEAD_DEFAULTS,
  linearClassifier,
  mlpEncoder,
  type Network,
  projectionHead,
  resNetEncoder,
  smallResNet,
  toLayersModel,
  vitEncoder,
} from 'supcon';

const free = (...nets: Network[]) => tf.dispose(nets.flatMap((n) => n.variables().map((p) => p.variable)));

/** Same parameter names, shapes and values. */
function assertSameNetwork(a: Network, b: Network, what: string): void {
  const av = a.variables();
  const bv = b.variables();
  assert.deepEqual(
    av.map((p) => p.name),
    bv.map((p) => p.name),
    what,
  );
  for (const [i, p] of av.entries())
    assert.deepEqual(p.variable.dataSync(), bv[i]!.variable.dataSync(), `${what}: ${p.name}`);
  assert.equal(a.outputDim, b.outputDim, what);
}

test('each encoder kind builds from its spec what its factory builds', () => {
  const seed = 3;
  const cases: [EncoderSpec, [number, number, number], () => Network][] = [
    [
      { kind: 'small-resnet', baseChannels: 4, blocksPerStage: 2, stemStride: 2 },
      [12, 12, 1],
      () => smallResNet({ channels: 1, width: 4, blocksPerStage: 2, stemStride: 2, seed }),
    ],
    [{ kind: 'mlp', hidden: [8, 6] }, [4, 4, 2], () => mlpEncoder({ inputDim: 32, hidden: [8, 6], seed })],
    [
      { kind: 'resnet', depth: 18, stem: 'imagenet', widthMultiplier: 0.0625 },
      [16, 16, 3],
      () => resNetEncoder({ depth: 18, stem: 'imagenet', width: 0.0625, inChannels: 3, seed }),
    ],
    [
      { kind: 'vit', patch: 2, dim: 4, depth: 1, heads: 2, mlpRatio: 2, pool: 'mean', gelu: 'tanh' },
      [4, 4, 3],
      () =>
        vitEncoder({
          patch: 2,
          dim: 4,
          depth: 1,
          heads: 2,
          mlpRatio: 2,
          pool: 'mean',
          gelu: 'tanh',
          inputShape: [4, 4, 3],
          seed,
        }),
    ],
  ];
  for (const [spec, inputShape, factory] of cases) {
    const fromSpec = createEncoder(spec, { inputShape, seed });
    const values = fromSpec.variables().map((p) => ({ name: p.name, values: p.variable.dataSync().slice() }));
    const outputDim = fromSpec.outputDim;
    free(fromSpec); // the ResNet's variable names are global: one at a time
    const fromFactory = factory();
    assert.deepEqual(
      fromFactory.variables().map((p) => ({ name: p.name, values: p.variable.dataSync() })),
      values,
      spec.kind,
    );
    assert.equal(fromFactory.outputDim, outputDim);
    free(fromFactory);
  }
});

test('each head kind builds from its spec what its factory builds', () => {
  const input = { inputDim: 6, classes: 3, seed: 5 };
  const projection = createHead(
    { kind: 'projection', projection: 'linear', outputDim: 4, normalizeInput: true },
    input,
  );
  const direct = projectionHead({ inputDim: 6, outputDim: 4, kind: 'linear', normalizeInput: true, seed: 5 });
  assertSameNetwork(projection, direct, 'projection');
  const classifier = createHead(HEAD_DEFAULTS.classifier, input);
  const fc = linearClassifier({ inputDim: 6, classes: 3, seed: 5 });
  assertSameNetwork(classifier, fc, 'classifier');
  assert.equal(classifier.outputDim, 3);
  free(projection, direct, classifier, fc);
});

test('the defaults of each kind are its factory defaults', () => {
  const small = createEncoder(ENCODER_DEFAULTS['small-resnet'], { inputShape: [28, 28, 1], seed: 0 });
  assert.equal(small.outputDim, 64); // 4 × 16 base channels
  const mlp = createEncoder(ENCODER_DEFAULTS.mlp, { inputShape: [28, 28, 1], seed: 0 });
  assert.equal(mlp.outputDim, 256);
  const head = createHead(HEAD_DEFAULTS.projection, { inputDim: 64, classes: 10, seed: 1 });
  assert.equal(head.outputDim, 128);
  assert.deepEqual(
    head.parameters().map((p) => p.name),
    ['dense0/kernel', 'dense0/bias', 'dense1/kernel', 'dense1/bias'],
  );
  free(small, mlp, head);
  assert.deepEqual(ENCODER_DEFAULTS.resnet, { kind: 'resnet', depth: 18, stem: 'cifar', widthMultiplier: 1 });
});

test('a bad spec is one sentence naming the field under its path', () => {
  const encoder = (spec: unknown, pattern: RegExp) =>
    assert.throws(() => checkEncoderSpec(spec as EncoderSpec, 'model.encoder'), pattern);
  encoder(
    { kind: 'resnet', depth: 18, stem: 'cifar', widthMultiplier: 0.3 },
    /argument `model\.encoder\.widthMultiplier`\. Expected a positive multiplier with 64·widthMultiplier a whole number.*Received: model\.encoder\.widthMultiplier=0\.3/,
  );
  encoder(
    { kind: 'resnet', depth: 101, stem: 'cifar', widthMultiplier: 1 },
    /`model\.encoder\.depth`\. Expected one of 18, 34, 50/,
  );
  encoder(
    { kind: 'vgg' },
    /`model\.encoder\.kind`\. Expected one of resnet, small-resnet, mlp, vit\. Received: model\.encoder\.kind="vgg"/,
  );
  encoder(
    { ...ENCODER_DEFAULTS['small-resnet'], hidden: [8] },
    /`model\.encoder\.hidden`\. Expected no such key: a small-resnet has only the keys kind, baseChannels, blocksPerStage, stemStride/,
  );
  encoder(
    { kind: 'small-resnet', baseChannels: 4, blocksPerStage: 1 },
    /`model\.encoder\.stemStride`\. Expected a value/,
  );
  encoder(
    { kind: 'small-resnet', baseChannels: 0, blocksPerStage: 1, stemStride: 1 },
    /`model\.encoder\.baseChannels`\. Expected a positive integer/,
  );
  encoder({ kind: 'mlp', hidden: [] }, /`model\.encoder\.hidden`\. Expected a non-empty array/);
  assert.throws(
    () =>
      checkHeadSpec(
        { kind: 'projection', projection: 'deep', outputDim: 8, normalizeInput: false } as never,
        'model.head',
      ),
    /`model\.head\.projection`\. Expected "mlp" or "linear"/,
  );
  assert.throws(
    () => checkModelSpec({ encoder: ENCODER_DEFAULTS.mlp, head: { kind: 'knn' } } as never),
    /`model\.head\.kind`/,
  );
  // The factories' own argument names where they are called directly; the same rule for the width.
  assert.throws(() => resNetEncoder({ width: 0.3 }), /argument `width`.*64·width a whole number/);
});

test('the layers export takes the same spec', () => {
  const spec: EncoderSpec = { kind: 'mlp', hidden: [5, 3] };
  const encoder = createEncoder(spec, { inputShape: [2, 2, 1], seed: 1 });
  const head = createHead(HEAD_DEFAULTS.classifier, { inputDim: 3, classes: 2, seed: 2 });
  const model = toLayersModel({
    inputShape: [2, 2, 1],
    encoder: spec,
    encoderWeights: encoder.variables(),
    head: { spec: HEAD_DEFAULTS.classifier, weights: head.variables() },
  });
  const x = tf.randomNormal([4, 2, 2, 1], 0, 1, 'float32', 3);
  const ours = head.apply(encoder.apply(x, false), false);
  const theirs = model.predict(x) as tf.Tensor;
  assert.ok(tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0]! < 1e-5);
  assert.throws(
    () => toLayersModel({ inputShape: [2, 2, 1], encoder: { kind: 'vgg' } as never, encoderWeights: [] }),
    /`encoder\.kind`\. Expected one of resnet, small-resnet, mlp, vit/,
  );
  tf.dispose([x, ours, theirs]);
  model.dispose();
  free(encoder, head);
});
