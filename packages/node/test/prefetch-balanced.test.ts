/** PrefetchingViews walks the balanced sampler's order too: its batches come from the worker, as inline. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ImageSet, PrefetchingViews } from '@supcon/node';
import { Augmenter, augmentPreset, batchesPerEpoch, batchIndices, Random, samplerOrder } from 'supcon';

test('PrefetchingViews answers the balanced sampler order from the worker', async () => {
  const rng = new Random(5);
  const count = 48;
  const set: ImageSet = {
    images: Uint8Array.from({ length: count * 36 }, () => rng.int(0, 256)),
    labels: Int32Array.from({ length: count }, (_, i) => i % 4),
    count,
    height: 6,
    width: 6,
    channels: 1,
  };
  const steps = augmentPreset('ce', { size: [6, 6] });
  const sampling = { sampler: 'balanced', samplesPerClass: 2, batchSize: 8, seed: 3 } as const;
  const ahead = new PrefetchingViews(set, { steps, views: 2, depth: 2, ...sampling });
  const direct = new Augmenter(steps, { height: 6, width: 6, channels: 1 });
  const size = 36;
  for (let epoch = 0; epoch < 2; epoch++) {
    const order = samplerOrder(sampling, set.labels, epoch);
    for (let step = 0; step < batchesPerEpoch(count, 8); step++) {
      const indices = batchIndices(order, step, 8);
      const images = new Uint8Array(8 * size);
      indices.forEach((i, k) => {
        images.set(set.images.subarray(i * size, (i + 1) * size), k * size);
      });
      const o = { views: 2, seed: 3, epoch, indices };
      assert.deepEqual(ahead.makeViews(images, 8, o), direct.apply(images, 8, o));
      const until = performance.now() + 15; // a "training step"
      while (performance.now() < until) {}
    }
  }
  await ahead.close();
  assert.ok(ahead.stats.prefetched > 6, `prefetched ${ahead.stats.prefetched}, inline ${ahead.stats.inline}`);
});
