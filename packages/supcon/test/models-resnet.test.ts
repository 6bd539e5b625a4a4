/**
 * ResNet-18/34/50 with both stems and a width multiplier: output shapes, parameter counts against
 * torchvision (reference/resnet_param_counts.py), a gradient step on the cpu backend at tiny sizes,
 * bad options, and the ResNet-18 weights unchanged for a seed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  createProjectionHead,
  createResNet,
  createResNet18,
  type ResNet,
  resNetConvs,
  resNetEncoder,
  resNetForward,
  trainableVariables,
} from 'supcon';

/**
 * Trainable parameters (conv kernels, BatchNorm gamma and beta; no fc) of torchvision's
 * resnet18/34/50 with the fc removed, and with the 7×7 stem conv replaced by a 3×3 one for 'cifar'
 * (SupContrast's resnet_big.py): printed by `/usr/bin/python3 reference/resnet_param_counts.py`.
 */
const TORCHVISION_COUNTS = {
  18: { cifar: 11_168_832, imagenet: 11_176_512 },
  34: { cifar: 21_276_992, imagenet: 21_284_672 },
  50: { cifar: 23_500_352, imagenet: 23_508_032 },
} as const;

function dispose(net: ResNet): void {
  tf.dispose(
    resNetConvs(net).flatMap((c) => [c.kernel, c.bn.gamma, c.bn.beta, c.bn.runningMean, c.bn.runningVar]),
  );
}

const trainableCount = (net: ResNet) =>
  resNetConvs(net).reduce((s, c) => s + c.kernel.size + c.bn.gamma.size + c.bn.beta.size, 0);

test('parameter counts equal torchvision for every depth (and both stems for ResNet-50)', () => {
  // Each full-size model draws its initial weights (≈1 s per 10 M on the cpu backend), so the
  // ImageNet stem is checked on one depth only.
  for (const depth of [18, 34, 50] as const) {
    for (const stem of depth === 50 ? (['cifar', 'imagenet'] as const) : (['cifar'] as const)) {
      const net = createResNet({ depth, stem });
      assert.equal(trainableCount(net), TORCHVISION_COUNTS[depth][stem], `ResNet-${depth} ${stem}`);
      assert.equal(net.featureDim, depth === 50 ? 2048 : 512);
      dispose(net);
    }
  }
});

test('output shapes: CIFAR stem keeps resolution, ImageNet stem divides by 4; width scales features', () => {
  const cases = [
    { depth: 18, stem: 'cifar', width: 0.125, size: 16, dim: 64 },
    { depth: 34, stem: 'imagenet', width: 0.125, size: 32, dim: 64 },
    { depth: 50, stem: 'cifar', width: 0.0625, size: 8, dim: 128 },
    { depth: 50, stem: 'imagenet', width: 0.0625, size: 32, dim: 128 },
  ] as const;
  for (const c of cases) {
    const net = createResNet({ depth: c.depth, stem: c.stem, width: c.width, seed: 1 });
    const y = tf.tidy(() =>
      resNetForward(net, tf.randomNormal([2, c.size, c.size, 3], 0, 1, 'float32', 3), false),
    );
    assert.deepEqual(y.shape, [2, c.dim], `ResNet-${c.depth} ${c.stem}`);
    assert.ok(y.dataSync().every(Number.isFinite));
    y.dispose();
    dispose(net);
  }
  // The stem's resolution: 7×7 stride 2 + max-pool stride 2 on 32×32 gives 8×8 maps in stage 1.
  const net = createResNet({ depth: 18, stem: 'imagenet', width: 0.125 });
  assert.deepEqual(net.stem.kernel.shape, [7, 7, 3, 8]);
  assert.equal(net.stem.stride, 2);
  dispose(net);
});

test('ResNet-50 blocks are Bottlenecks with expansion 4 and the stride on the 3×3', () => {
  const net = createResNet({ depth: 50, width: 0.25 });
  assert.equal(net.blocks.length, 16);
  const b = net.blocks[3]!; // first block of stage 2
  assert.deepEqual(b.conv1.kernel.shape, [1, 1, 64, 32]);
  assert.deepEqual([b.conv2.kernel.shape, b.conv2.stride], [[3, 3, 32, 32], 2]);
  assert.deepEqual(b.conv3?.kernel.shape, [1, 1, 32, 128]);
  assert.deepEqual([b.shortcut?.kernel.shape, b.shortcut?.stride], [[1, 1, 64, 128], 2]);
  assert.equal(b.conv1.kernel.name, 'layer2.0/conv1/kernel');
  dispose(net);
});

test('a gradient step runs on the cpu backend and changes every trainable variable', () => {
  for (const depth of [18, 34, 50] as const) {
    const enc = resNetEncoder({ depth, stem: depth === 34 ? 'imagenet' : 'cifar', width: 0.0625, seed: 2 });
    const params = enc.parameters();
    const x = tf.randomNormal([4, 8, 8, 3], 0, 1, 'float32', 5);
    const before = tf.tensor(tf.concat(params.map((p) => p.variable.flatten())).dataSync());
    const { value, grads } = tf.variableGrads(
      () => tf.sum(tf.square(enc.apply(x, true))) as tf.Scalar,
      params.map((p) => p.variable),
    );
    assert.ok(Number.isFinite(value.dataSync()[0]!));
    for (const p of params) {
      const g = grads[p.variable.name]!;
      assert.ok(g, `gradient for ${p.name}`);
      p.variable.assign(tf.sub(p.variable, tf.mul(g, 0.01)));
    }
    const after = tf.concat(params.map((p) => p.variable.flatten()));
    assert.ok(tf.max(tf.abs(tf.sub(after, before))).dataSync()[0]! > 0, `ResNet-${depth} moved`);
    // BatchNorm running statistics were updated in training mode.
    const stats = enc.variables().filter((p) => p.name.endsWith('running_mean'));
    assert.ok(stats.some((p) => tf.max(tf.abs(p.variable)).dataSync()[0]! > 0));
    tf.dispose([value, before, after, x, ...Object.values(grads)]);
    dispose(enc.net);
  }
});

test('bad options name the argument, the expectation and the value', () => {
  assert.throws(() => createResNet({ depth: 101 as 50 }), /argument `depth`.*18, 34, 50.*depth=101/);
  assert.throws(
    () => createResNet({ stem: 'tiny' as 'cifar' }),
    /argument `stem`.*"cifar" or "imagenet".*"tiny"/,
  );
  assert.throws(() => createResNet({ width: 0.3 }), /argument `width`.*64·width a whole number.*width=0.3/);
  assert.throws(() => createResNet({ width: -1 }), /argument `width`/);
});

test('ResNet-18 keeps its variable names and creation order (checkpoints and bench depend on it)', () => {
  const net = createResNet18({ seed: 3 });
  const names = resNetConvs(net).map((c) => c.kernel.name);
  assert.equal(names.length, 20);
  assert.deepEqual(names.slice(0, 4), [
    'stem/kernel',
    'layer1.0/conv1/kernel',
    'layer1.0/conv2/kernel',
    'layer1.1/conv1/kernel',
  ]);
  assert.equal(names[7], 'layer2.0/shortcut/kernel');
  assert.equal(net.stem.bn.runningVar.name, 'stem/bn/running_var');
  // SHA-256 of every name and value (encoder and head, seed 3), taken with the ResNet-18-only
  // code before ResNet-34/50 were added: the generalisation did not change a single bit.
  const head = createProjectionHead({ seed: 3 });
  const hash = createHash('sha256');
  for (const v of trainableVariables(net, head)) {
    hash.update(v.name);
    hash.update(new Uint8Array(v.dataSync().buffer));
  }
  assert.equal(hash.digest('hex'), '5bf8d09f664091b429e8714e20311a9b211372696e30f8e664e8bc4907426f01');
  tf.dispose([head.w1, head.b1, head.w2, head.b2]);
  dispose(net);
});
