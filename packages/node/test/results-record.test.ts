/**
 * The library side of issue 15: the run spec's schema (every level, dotted paths), the resolution
 * that stores what trains, spec differences, kNN results with their settings (and the old summary
 * names still read), and robustness baselines compared only when measured the same way.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  baselineDifferences,
  checkSpecShape,
  evaluateKnn,
  knnTestTop1,
  presetSpec,
  relativeCorruptionErrors,
  resolveRunSpec,
  specDifferences,
} from '@supcon/node';
import type { FeatureSet } from 'supcon';
import { robustnessResult } from './robustness-fixture.js';

test('checkSpecShape checks every level and names the dotted path', () => {
  checkSpecShape(presetSpec('fashion-quick'));
  checkSpecShape(presetSpec('cifar-paper'));
  checkSpecShape({ model: { encoder: 'mlp' }, train: { optimizer: { momentum: 0.5 } } }, { partial: true });
  const refuses = (value: unknown, pattern: RegExp, partial = true) =>
    assert.throws(() => checkSpecShape(value, { partial }), pattern);
  refuses({ model: { encodr: 'mlp' } }, /`model\.encodr`. Expected no such key: `model` has only the keys/);
  refuses({ train: { optimizer: { knd: 'sgd' } } }, /`train\.optimizer\.knd`/);
  refuses({ trian: {} }, /`trian`. Expected no such key: the run spec has only the keys train, model/);
  refuses({ train: { epochs: 2.5 } }, /`train\.epochs`. Expected an integer. Received: train\.epochs=2\.5/);
  refuses({ model: { encoder: 'vgg' } }, /`model\.encoder`. Expected one of small-resnet, mlp/);
  refuses({ data: [] }, /`data`. Expected a JSON object/);
  const { knnK: _, ...missing } = presetSpec();
  refuses(missing, /`knnK`. Expected a value \(the key is required\)/, false);
});

test('resolveRunSpec writes out what trains and refuses what would not be used', () => {
  const spec = presetSpec();
  spec.data.dataset = 'folder:/images';
  const resolved = resolveRunSpec(spec);
  assert.deepEqual([resolved.data.size, resolved.data.grayscale], [32, false]);
  assert.equal(spec.data.size, undefined, 'the input is not changed');
  const fashion = presetSpec();
  fashion.data.grayscale = true;
  assert.throws(
    () => resolveRunSpec(fashion),
    /`data\.grayscale`. Expected no value for dataset "fashion-mnist"/,
  );
  const typo = presetSpec() as unknown as { train: Record<string, unknown> };
  typo.train['epochz'] = 3;
  assert.throws(() => resolveRunSpec(typo as never), /`train\.epochz`/);
});

test('specDifferences lists the leaves that differ', () => {
  const a = presetSpec();
  const b = structuredClone(a);
  assert.deepEqual(specDifferences(a, b), []);
  b.train.epochs = 2;
  b.model.head = { ...b.model.head, outputDim: 64 } as typeof b.model.head;
  b.data.size = 24;
  assert.deepEqual(specDifferences(a, b), [
    'train.epochs: 10 → 2',
    'model.head.outputDim: 128 → 64',
    'data.size: absent → 24',
  ]);
});

/** n one-hot features of `classes` classes, labels cycling. */
function features(n: number, classes: number): FeatureSet {
  const f = new Float32Array(n * classes);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % classes;
    f[i * classes + (i % classes)] = 1;
  }
  return { features: f, labels, count: n, dim: classes };
}

test('evaluateKnn records k, bank and τ; a k above the bank is refused or lowered with a note', () => {
  const train = features(30, 3);
  const knn = evaluateKnn(train, { test: features(9, 3) }, { k: 5, bank: 12, temperature: 0.1, classes: 3 });
  assert.deepEqual(knn, { k: 5, bank: 12, temperature: 0.1, test: { top1: 1, top5: 1, images: 9 } });
  assert.throws(
    () => evaluateKnn(train, { test: features(9, 3) }, { k: 20, bank: 12, temperature: 0.1, classes: 3 }),
    /`k`. Expected at most the bank size \(12 training samples\). Received: k=20/,
  );
  assert.throws(
    () => evaluateKnn(train, {}, { k: 40, bank: 100, temperature: 0.1, classes: 3 }),
    /at most the bank size \(30 training samples: the training split has only 30\)/,
  );
  const lowered = evaluateKnn(train, {}, { k: 200, bank: 100, temperature: 0.1, classes: 3, clampK: true });
  assert.deepEqual([lowered.k, lowered.bank, lowered.requestedK], [30, 30, 200]);
});

test('knnTestTop1 reads the knn record and the names earlier versions wrote', () => {
  assert.deepEqual(knnTestTop1({ knn: { k: 20, bank: 10, temperature: 0.1, test: { top1: 0.4 } } }), {
    top1: 0.4,
    k: 20,
    bank: 10,
  });
  assert.deepEqual(knnTestTop1({ knnTestAccuracy: 0.71, knn_test_top1: 0.42 }), { top1: 0.71 });
  assert.deepEqual(knnTestTop1({ knn_test_top1: 0.42 }), { top1: 0.42 });
  assert.equal(knnTestTop1({ testAccuracy: 0.9 }), undefined);
});

const robustness = robustnessResult;

test('a robustness baseline is compared only when measured the same way; mCE is never NaN', () => {
  const base = robustness();
  const setting = { testImages: 300, corruptions: ['contrast' as const], severities: [1, 5], seed: 0 };
  assert.deepEqual(baselineDifferences(setting, base), ['300 test images here, 2000 in the baseline']);
  assert.deepEqual(
    baselineDifferences(
      { ...setting, testImages: 2000, severities: [1, 2], corruptions: ['pixelate'] },
      base,
    ),
    ['severities 1,2 here, 1,5 in the baseline', 'corruptions pixelate missing from the baseline'],
  );
  assert.deepEqual(baselineDifferences({ ...setting, testImages: 2000, dataset: 'mnist' }, base), [
    'dataset mnist here, fashion-mnist in the baseline',
  ]);
  // The severities in another order are the same measurement.
  assert.deepEqual(baselineDifferences({ ...setting, testImages: 2000, severities: [5, 1] }, base), []);

  const run = robustness({ accuracy: { contrast: [0.9, 0.75] }, testImages: 2000 });
  const relative = relativeCorruptionErrors(run, base);
  assert.ok(Math.abs(relative.mCE - 0.35 / 0.7) < 1e-12);
  assert.deepEqual([relative.corruptions, relative.baselineOnly], [['contrast'], ['jpeg']]);
  assert.throws(
    () => relativeCorruptionErrors(robustness({ testImages: 300 }), base),
    /`baseline`.*300 test images here, 2000 in the baseline/,
  );
  assert.throws(
    () => relativeCorruptionErrors(run, robustness({ accuracy: { contrast: [1, 1] } })),
    /some error on contrast/,
  );
});
