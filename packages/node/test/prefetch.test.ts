import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { type ImageSet, PrefetchingViews } from '@supcon/node';
import {
  Augmenter,
  augmentPreset,
  batchesPerEpoch,
  batchIndices,
  epochOrder,
  mlpEncoder,
  projectionHead,
  Random,
  resolveConfig,
  Trainer,
} from 'supcon';

function randomSet(count: number, h: number, w: number, c: number): ImageSet {
  const rng = new Random(5);
  return {
    images: Uint8Array.from({ length: count * h * w * c }, () => rng.int(0, 256)),
    labels: Int32Array.from({ length: count }, (_, i) => i % 4),
    count,
    height: h,
    width: w,
    channels: c,
  };
}

function gather(set: ImageSet, indices: Int32Array): Uint8Array {
  const size = set.height * set.width * set.channels;
  const out = new Uint8Array(indices.length * size);
  indices.forEach((i, k) => {
    out.set(set.images.subarray(i * size, (i + 1) * size), k * size);
  });
  return out;
}

test('PrefetchingViews answers the sampler order from the worker, identical to inline augmentation', async () => {
  const set = randomSet(40, 12, 12, 3);
  const steps = augmentPreset('supcon', { size: [10, 10] });
  const ahead = new PrefetchingViews(set, { steps, batchSize: 8, views: 2, seed: 7, depth: 2 });
  const direct = new Augmenter(steps, { height: 12, width: 12, channels: 3 });
  const perEpoch = batchesPerEpoch(40, 8);
  for (let epoch = 0; epoch < 2; epoch++) {
    const order = epochOrder(40, 7, epoch);
    for (let step = 0; step < perEpoch; step++) {
      const indices = batchIndices(order, step, 8);
      const images = gather(set, indices);
      const o = { views: 2, seed: 7, epoch, indices };
      assert.deepEqual(ahead.makeViews(images, 8, o), direct.apply(images, 8, o));
      const until = performance.now() + 15; // a "training step"
      while (performance.now() < until) {}
    }
  }
  // A request outside the sampler order is still answered, inline.
  const odd = Int32Array.from([3, 1, 4, 1, 5, 9, 2, 6]);
  const o = { views: 2, seed: 7, epoch: 0, indices: odd };
  assert.deepEqual(ahead.makeViews(gather(set, odd), 8, o), direct.apply(gather(set, odd), 8, o));
  await ahead.close();
  assert.ok(ahead.stats.prefetched >= 6, JSON.stringify(ahead.stats));
  assert.equal(ahead.stats.prefetched + ahead.stats.inline, 2 * perEpoch + 1);
});

test('PrefetchingViews plugs into the Trainer: the same losses as augmenting inline', async () => {
  const set = randomSet(48, 8, 8, 1);
  const steps = augmentPreset('supcon', { size: [8, 8] });
  const run = (makeViews?: PrefetchingViews['makeViews']) => {
    const config = resolveConfig({ method: 'supcon', epochs: 2, batchSize: 16, views: 2, lr: 0.05, seed: 3 });
    const encoder = mlpEncoder({ inputDim: 64, hidden: [16], seed: 1 });
    const head = projectionHead({ inputDim: 16, outputDim: 8, seed: 2 });
    const direct = new Augmenter(steps, { height: 8, width: 8, channels: 1 });
    const trainer = new Trainer({
      config,
      encoder,
      head,
      data: set,
      makeViews: makeViews ?? ((images, count, o) => direct.apply(images, count, o)),
    });
    const losses: number[] = [];
    trainer.run({ afterStep: (r) => losses.push(r.loss) });
    trainer.dispose();
    return losses;
  };
  const ahead = new PrefetchingViews(set, { steps, batchSize: 16, views: 2, seed: 3 });
  const withWorker = run(ahead.makeViews);
  await ahead.close();
  assert.deepEqual(withWorker, run());
  assert.ok(ahead.stats.prefetched > 0, JSON.stringify(ahead.stats));
});

test('PrefetchingViews refuses requests for another set than its own', async () => {
  const set = randomSet(16, 4, 4, 1);
  const other = randomSet(16, 4, 4, 1);
  other.images = other.images.map((v) => 255 - v);
  const ahead = new PrefetchingViews(set, { steps: [], batchSize: 4, views: 1, seed: 0 });
  const indices = Int32Array.from([0, 1, 2, 3]);
  assert.throws(
    () => ahead.makeViews(gather(other, indices), 4, { views: 1, seed: 0, epoch: 0, indices }),
    /PrefetchingViews was built with/,
  );
  await ahead.close();
});

test('PrefetchingViews whose worker died answers inline at once, without waiting for it', async () => {
  const set = randomSet(32, 6, 6, 1);
  const steps = augmentPreset('ce', { size: [6, 6] });
  const ahead = new PrefetchingViews(set, { steps, batchSize: 8, views: 2, seed: 1, depth: 2 });
  const direct = new Augmenter(steps, { height: 6, width: 6, channels: 1 });
  const order = epochOrder(32, 1, 0);
  const request = (step: number) => {
    const indices = batchIndices(order, step, 8);
    const o = { views: 2, seed: 1, epoch: 0, indices };
    return {
      got: ahead.makeViews(gather(set, indices), 8, o),
      want: direct.apply(gather(set, indices), 8, o),
    };
  };
  const first = request(0); // inline: the worker learns the position
  assert.deepEqual(first.got, first.want);
  // What the worker does when it fails: mark itself dead in the control words.
  await ahead.close();
  Atomics.store((ahead as unknown as { control: Int32Array }).control, 1, 2);
  const t = performance.now();
  for (let step = 1; step < 4; step++) {
    const { got, want } = request(step);
    assert.deepEqual(got, want);
  }
  assert.ok(performance.now() - t < 2000, 'no wait for a dead worker');
  assert.equal(ahead.stats.inline, 4);
});

test('nice lowers the priority of the worker thread only (Linux)', {
  skip: process.platform !== 'linux' && 'per-thread niceness is a Linux behaviour',
}, async () => {
  const niceness = () =>
    readdirSync('/proc/self/task').map((t) => {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]); // field 19: nice
    });
  const before = niceness().filter((n) => n === 19).length;
  const ahead = new PrefetchingViews(randomSet(16, 4, 4, 1), {
    steps: [],
    batchSize: 4,
    views: 1,
    seed: 0,
    nice: 19,
  });
  for (let i = 0; i < 100 && niceness().filter((n) => n === 19).length === before; i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal(niceness().filter((n) => n === 19).length, before + 1);
  assert.equal(niceness()[0], 0, 'the main thread keeps its priority');
  await ahead.close();
  assert.throws(
    () =>
      new PrefetchingViews(randomSet(4, 2, 2, 1), { steps: [], batchSize: 2, views: 1, seed: 0, nice: 20 }),
    /argument `nice`.*0\.\.19/,
  );
});
