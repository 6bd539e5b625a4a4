/**
 * `data.augment: 'randaugment'` with its magnitude and operations (`--randaugment-magnitude M`,
 * `--randaugment-ops N`) reaches the training augmentation: the run's augmenter gives the views of
 * the core's RandAugment at that magnitude (an Augmenter on the steps written out by hand), and
 * other magnitudes give other views. Other augmentations keep no RandAugment keys in config.json
 * and refuse them; autoaugment is light + the core's CIFAR-10 policy.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Dataset, type PreparedData, presetSpec, type RunSpec, resolveRunSpec } from '@supcon/node';
import { Augmenter, type AugmentStep } from 'supcon';
import { trainAugmenter } from '../src/train/run-common.js';

const [H, W, C, N] = [28, 28, 1, 6];
const images = Uint8Array.from({ length: N * H * W * C }, (_, i) => (i * 37 + (i >> 5) * 11) % 256);
const train = { images, labels: new Int32Array(N), count: N, height: H, width: W, channels: C };
const data = {
  dataset: { mean: [0.3], std: [0.35] } as Dataset,
  train,
  validation: train,
} as PreparedData;

const specWith = (data: Partial<RunSpec['data']>): RunSpec => {
  const spec = presetSpec('fashion-quick');
  return resolveRunSpec({ ...spec, data: { ...spec.data, ...data } });
};
const views = (spec: RunSpec) => trainAugmenter(spec, data).augmenter.apply(images, N, { views: 2, seed: 3 });
/** The same training steps written out by hand on the core's ops: light, then the policy. */
const byHand = (policy: AugmentStep): Float32Array =>
  new Augmenter(
    [
      { op: 'randomResizedCrop', size: [H, W], scale: [0.6, 1] },
      { op: 'horizontalFlip', p: 0.5 },
      policy,
      { op: 'normalize', mean: [0.3], std: [0.35] },
    ],
    { height: H, width: W, channels: C },
  ).apply(images, N, { views: 2, seed: 3 });

test('the magnitude and the operations reach the views, as the core RandAugment at that magnitude', () => {
  const at = (magnitude: number, ops?: number) =>
    specWith({
      augment: 'randaugment',
      randAugmentMagnitude: magnitude,
      ...(ops ? { randAugmentOps: ops } : {}),
    });
  for (const [magnitude, ops] of [
    [0, 2],
    [15, 2],
    [25, 3],
  ] as const)
    assert.deepEqual(
      views(at(magnitude, ops)),
      byHand({ op: 'randAugment', numOps: ops, magnitude, numMagnitudeBins: 31 }),
      `magnitude ${magnitude}, ${ops} ops`,
    );
  const zero = views(at(0));
  const large = views(at(25));
  const differing = zero.filter((v, i) => Math.abs(v - large[i]!) > 1e-6).length;
  assert.ok(
    differing > zero.length / 10,
    `magnitude 0 and 25 differ in ${differing} of ${zero.length} values`,
  );
  assert.notDeepEqual(views(at(9, 1)), views(at(9, 3)), 'the number of operations matters');
});

test('randaugment writes its defaults (9, 2) into the spec; other augmentations keep no such keys', () => {
  const spec = specWith({ augment: 'randaugment' });
  assert.deepEqual([spec.data.randAugmentMagnitude, spec.data.randAugmentOps], [9, 2]);
  assert.deepEqual(views(spec), byHand({ op: 'randAugment', numOps: 2, magnitude: 9, numMagnitudeBins: 31 }));
  const light = specWith({});
  assert.deepEqual(Object.keys(light.data).sort(), ['augment', 'dataset', 'limit', 'validation']);
  assert.throws(
    () => specWith({ augment: 'light', randAugmentMagnitude: 3 }),
    /`data.randAugmentMagnitude`.*no value with data.augment "light".*Received: data.randAugmentMagnitude=3/,
  );
  assert.throws(
    () => specWith({ augment: 'randaugment', randAugmentMagnitude: 31 }),
    /`data.randAugmentMagnitude`. Expected an integer bin from 0 to 30/,
  );
  assert.throws(() => specWith({ augment: 'randaugment', randAugmentOps: 0 }), /`data.randAugmentOps`/);
});

test('autoaugment is light followed by the core CIFAR-10 AutoAugment policy', () => {
  assert.deepEqual(
    views(specWith({ augment: 'autoaugment' })),
    byHand({ op: 'autoAugment', policy: 'cifar10' }),
  );
});
