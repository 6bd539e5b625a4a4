/**
 * The one frozen-encoder type: a shipped pretrained model and a run folder open through
 * `openEncoderOnly` with their fingerprints, embed through one `embed(set, { batchSize, onProgress })`
 * (the pretrained model's own `embed` batching and reporting, nobody re-batching), and give the
 * features the direct paths give; bad batch sizes are one sentence.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  augmentSteps,
  embedImages,
  type ImageSet,
  loadRunEncoder,
  openEncoderOnly,
  trainRun,
} from '@supcon/node';
import { listPretrained, loadPretrained, pretrainedDir } from '@supcon/pretrained';
import * as tf from '@tensorflow/tfjs-core';
import { quadrantDataset, tinySpec } from './train-fixture.js';

/** `count` deterministic grey images of `h`×`w`, labels i mod 3. */
function images(count: number, h: number, w: number): ImageSet {
  const size = h * w;
  return {
    images: Uint8Array.from({ length: count * size }, (_, i) => (i * 37 + (i >> 5)) % 256),
    labels: Int32Array.from({ length: count }, (_, i) => i % 3),
    count,
    height: h,
    width: w,
    channels: 1,
  } as ImageSet;
}

const maxGap = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

test('a pretrained model: one embed with batchSize and onProgress, the same features as its own embed', async () => {
  const [card] = await listPretrained();
  assert.ok(card, 'a shipped model');
  const [h, w] = card.inputShape;
  const set = images(23, h, w);
  const frozen = await openEncoderOnly({ pretrained: card.name });
  const direct = await loadPretrained(card.name);
  try {
    const sha = createHash('sha256')
      .update(readFileSync(join(pretrainedDir(card.name), 'weights.bin')))
      .digest('hex');
    assert.deepEqual(frozen.fingerprint, { kind: 'pretrained', name: card.name, weightsSha256: sha });
    assert.deepEqual(frozen.input.shape, card.inputShape);
    const seen: [number, number][] = [];
    const f = frozen.embed(set, { batchSize: 10, onProgress: (done, total) => seen.push([done, total]) });
    assert.deepEqual(seen, [
      [0, 23],
      [10, 23],
      [20, 23],
      [23, 23],
    ]);
    assert.equal(f.count, 23);
    assert.equal(f.dim, card.outputDim);
    assert.deepEqual(Array.from(f.labels), Array.from(set.labels));
    const own: [number, number][] = [];
    const expected = direct.embed(set.images, 23, { batchSize: 4, onProgress: (d, t) => own.push([d, t]) });
    assert.equal(own.length, 7); // 6 batches of at most 4, then the end
    assert.deepEqual(own.at(-1), [23, 23]);
    assert.ok(maxGap(f.features, expected) < 1e-5, `features differ by ${maxGap(f.features, expected)}`);
    assert.throws(
      () => direct.embed(set.images, 23, { batchSize: 0 }),
      /argument `batchSize`\. Expected a positive integer\. Received: batchSize=0/,
    );
  } finally {
    frozen.dispose();
    direct.dispose();
  }
});

test("a run folder without its dataset: the checkpoint's encoder, fingerprint and features", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-frozen-'));
  const run = join(dir, 'run');
  const dataset = quadrantDataset();
  try {
    const { trainer } = await trainRun(tinySpec(1), run, { dataset });
    trainer.dispose();
    const input = { shape: [8, 8, 1] as [number, number, number], mean: [0.5], std: [0.25] };
    const frozen = await openEncoderOnly({ run, input });
    const { encoder, checkpoint } = await loadRunEncoder(run, dataset);
    try {
      assert.equal(frozen.fingerprint.kind, 'run');
      assert.deepEqual(frozen.fingerprint.kind === 'run' && frozen.fingerprint.checkpoint, checkpoint);
      const seen: number[] = [];
      const f = frozen.embed(dataset.test!, { batchSize: 16, onProgress: (done) => seen.push(done) });
      assert.deepEqual(seen, [0, 16, 32, 40]);
      const expected = embedImages(encoder, dataset.test!, augmentSteps('none', [8, 8], [0.5], [0.25]).eval);
      assert.equal(f.dim, expected.dim);
      assert.ok(maxGap(f.features, expected.features) < 1e-6, 'the same encoder');
    } finally {
      frozen.dispose();
      tf.dispose(encoder.variables().map((p) => p.variable));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
