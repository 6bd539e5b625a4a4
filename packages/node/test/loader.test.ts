import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Batch, batchToTensors, DataLoader, type ImageSet } from '@supcon/node';
import { Augmenter, augmentPreset, InvalidArgumentError, Random } from 'supcon';

function randomSet(count: number, h: number, w: number, c: number): ImageSet {
  const rng = new Random(11);
  return {
    images: Uint8Array.from({ length: count * h * w * c }, () => rng.int(0, 256)),
    labels: Int32Array.from({ length: count }, (_, i) => i % 10),
    count,
    height: h,
    width: w,
    channels: c,
  };
}

const steps = augmentPreset('supcon', { size: [16, 16], mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] });

async function collect(loader: DataLoader, epoch: number) {
  const batches = [];
  for await (const b of loader.epoch(epoch)) batches.push(b);
  return batches;
}

test('loader: seeded shuffle covers every sample once; same result with 0, 1 and 2 workers', async () => {
  const set = randomSet(50, 20, 20, 3);
  const results: Batch[][] = [];
  for (const workers of [0, 1, 2]) {
    const loader = new DataLoader(set, { batchSize: 8, views: 2, steps, seed: 4, workers });
    const batches = await collect(loader, 3);
    await loader.close();
    assert.equal(batches.length, 6); // 50 // 8, last partial batch dropped
    for (const b of batches) {
      assert.deepEqual(b.shape, [8, 2, 16, 16, 3]);
      assert.equal(b.images.length, 8 * 2 * 16 * 16 * 3);
      assert.deepEqual(
        Array.from(b.labels),
        Array.from(b.indices, (i) => i % 10),
      );
    }
    results.push(batches);
  }
  for (const other of results.slice(1)) {
    other.forEach((b, k) => {
      assert.deepEqual(b.indices, results[0]![k]!.indices);
      assert.deepEqual(b.images, results[0]![k]!.images);
    });
  }
  // The augmented views equal what the Augmenter gives for those dataset indices.
  const first = results[0]![0]!;
  const direct = new Augmenter(steps, { height: 20, width: 20, channels: 3 }).applyAt(
    set.images,
    first.indices,
    { views: 2, seed: 4, epoch: 3 },
  );
  assert.deepEqual(first.images, direct);
});

test('loader: epochs reshuffle; no shuffle keeps order; dropLast=false keeps the tail', async () => {
  const set = randomSet(20, 8, 8, 1);
  const gray = augmentPreset('ce', { size: [8, 8] });
  const loader = new DataLoader(set, { batchSize: 6, steps: gray, workers: 0, dropLast: false, seed: 1 });
  const e0 = (await collect(loader, 0)).flatMap((b) => Array.from(b.indices));
  const e1 = (await collect(loader, 1)).flatMap((b) => Array.from(b.indices));
  assert.equal(e0.length, 20);
  assert.deepEqual(
    [...e0].sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.notDeepEqual(e0, e1);
  const ordered = new DataLoader(set, { batchSize: 5, steps: gray, workers: 0, shuffle: false });
  assert.deepEqual((await collect(ordered, 0))[1]!.indices, Int32Array.from([5, 6, 7, 8, 9]));
});

test('loader: the consumer runs while the next batch is prepared in a worker', async () => {
  const set = randomSet(64, 32, 32, 3);
  const loader = new DataLoader(set, {
    batchSize: 16,
    views: 2,
    steps: augmentPreset('supcon', { size: [32, 32] }),
    workers: 1,
    prefetch: 2,
  });
  let batches = 0;
  for await (const b of loader.epoch(0)) {
    // A synchronous "training step": the worker keeps augmenting meanwhile.
    const until = performance.now() + 5;
    while (performance.now() < until) {}
    batches += b.images.length > 0 ? 1 : 0;
  }
  await loader.close();
  assert.equal(batches, 4);
});

test('loader: bad options are argument errors', () => {
  const set = randomSet(10, 8, 8, 1);
  assert.throws(() => new DataLoader(set, { batchSize: 0, steps: [] }), InvalidArgumentError);
  assert.throws(() => new DataLoader(set, { batchSize: 11, steps: [] }), /batchSize/);
  assert.throws(() => new DataLoader(set, { batchSize: 2, steps: [], workers: -1 }), /workers/);
  assert.throws(
    () =>
      new DataLoader(set, { batchSize: 2, steps: [{ op: 'normalize', mean: [0, 0, 0], std: [1, 1, 1] }] }),
    /mean/,
  );
});

test('loader: a custom order (e.g. the Trainer sampler) decides the batches', async () => {
  const set = randomSet(12, 8, 8, 1);
  const reversed = (epoch: number) => Int32Array.from({ length: 12 }, (_, i) => (epoch === 0 ? 11 - i : i));
  const loader = new DataLoader(set, {
    batchSize: 4,
    steps: augmentPreset('ce', { size: [8, 8] }),
    workers: 0,
    order: reversed,
  });
  assert.deepEqual((await collect(loader, 0))[0]!.indices, Int32Array.from([11, 10, 9, 8]));
  const bad = new DataLoader(set, { batchSize: 4, steps: [], workers: 0, order: () => new Int32Array(3) });
  await assert.rejects(collect(bad, 0), /order/);
});

test('batchToTensors: [batch·views, H, W, C] images and int32 labels', async () => {
  const set = randomSet(8, 8, 8, 1);
  const loader = new DataLoader(set, {
    batchSize: 4,
    views: 2,
    steps: augmentPreset('ce', { size: [6, 6] }),
    workers: 0,
  });
  const [first] = await collect(loader, 0);
  const { images, labels } = batchToTensors(first!);
  assert.deepEqual(images.shape, [8, 6, 6, 1]);
  assert.equal(labels.dtype, 'int32');
  assert.deepEqual(Array.from(await labels.data()), Array.from(first!.labels));
  assert.deepEqual(await images.data(), first!.images);
  images.dispose();
  labels.dispose();
});
