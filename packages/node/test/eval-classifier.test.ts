/**
 * Cross-entropy runs read end to end: evaluateEncoder's `classifier` option reports the model's
 * own softmax head on validation and test (classifierValidationAccuracy / classifierTestAccuracy),
 * checked against the head applied directly to the normalised test images; loadRunEncoder hands
 * the trained head back for a ce run (from the checkpoint) and none for SupCon.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluateEncoder, loadRunEncoder, trainRun } from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';
import { resolveConfig } from 'supcon';
import { quadrantDataset, tinySpec } from './train-fixture.js';

function ceSpec() {
  const spec = tinySpec(12);
  spec.train = resolveConfig({ ...spec.train, method: 'ce' });
  // No flips: a mirrored quadrant image is another class, which would cap what the head can learn.
  spec.data = { ...spec.data, augment: 'none' };
  return spec;
}

/** Top-1 of head(encoder(x)) on the test images, computed here without the features path. */
function directTestTop1(
  dataset: ReturnType<typeof quadrantDataset>,
  encoder: { apply: (x: tf.Tensor, t: boolean) => tf.Tensor },
  head: { apply: (x: tf.Tensor, t: boolean) => tf.Tensor },
): number {
  const t = dataset.test!;
  return tf.tidy(() => {
    const x = tf.div(
      tf.sub(tf.div(tf.tensor4d(Float32Array.from(t.images), [t.count, 8, 8, 1]), 255), dataset.mean[0]!),
      dataset.std[0]!,
    );
    const predicted = tf.argMax(head.apply(encoder.apply(x, false), false), 1).dataSync();
    let right = 0;
    for (let i = 0; i < t.count; i++) if (predicted[i] === t.labels[i]) right++;
    return right / t.count;
  });
}

test('a cross-entropy run reports its own classifier, equal to applying it directly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-ce-'));
  try {
    const dataset = quadrantDataset();
    const { trainer, data, spec } = await trainRun(ceSpec(), join(dir, 'ce'), { dataset });
    const { summary } = evaluateEncoder(spec, trainer.encoder, data, { classifier: trainer.head });
    const direct = directTestTop1(dataset, trainer.encoder, trainer.head);
    assert.equal(summary.classifierTestAccuracy, direct);
    assert.ok(summary.classifierValidationAccuracy! >= 0 && summary.classifierValidationAccuracy! <= 1);
    assert.ok(direct > 0.5, `the tiny ce model learned the quadrants (${direct})`);
    const loaded = await loadRunEncoder(join(dir, 'ce'), dataset);
    assert.ok(loaded.classifier, 'a ce run comes back with its classifier');
    assert.equal(directTestTop1(dataset, loaded.encoder, loaded.classifier), direct);
    const { summary: none } = evaluateEncoder(spec, trainer.encoder, data);
    assert.equal(none.classifierTestAccuracy, undefined);
    const supcon = await trainRun(tinySpec(1), join(dir, 'supcon'), { dataset });
    assert.ok(supcon.trainer);
    assert.equal((await loadRunEncoder(join(dir, 'supcon'), dataset)).classifier, undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
