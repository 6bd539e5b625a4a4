/**
 * The ViT through the run spec: the `--encoder` names vit, vit-tiny and vit-b16, sizes from a
 * config file, bad sizes refused under `model.encoder`, and a tiny ViT run that trains, checkpoints,
 * evaluates (the encoder reloads) and exports to a layers model that loads back with equal outputs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  encoderSpecFor,
  exportRun,
  loadExportedModel,
  loadRunEncoder,
  mergeModel,
  patchModel,
  presetSpec,
  resolveRunSpec,
  trainRun,
} from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';
import { ENCODER_DEFAULTS, VIT_PRESETS, type VitSpec } from 'supcon';
import { quadrantDataset, tinySpec } from './train-fixture.js';

const small: VitSpec = {
  kind: 'vit',
  patch: 4,
  dim: 16,
  depth: 1,
  heads: 2,
  mlpRatio: 2,
  pool: 'cls',
  gelu: 'none',
};

test('encoder names: vit is the default ViT (vit-tiny), vit-b16 the paper shape; sizes from a config', () => {
  assert.deepEqual(encoderSpecFor('vit'), ENCODER_DEFAULTS.vit);
  assert.deepEqual(encoderSpecFor('vit-tiny'), { kind: 'vit', ...VIT_PRESETS['vit-tiny'] });
  assert.deepEqual(encoderSpecFor('vit-b16'), { kind: 'vit', ...VIT_PRESETS['vit-b16'] });
  const base = presetSpec().model;
  assert.deepEqual(patchModel(base, { encoder: 'vit-b16' }).encoder, encoderSpecFor('vit-b16'));
  // A config's ViT sizes over the kind's defaults; `--encoder vit` then keeps them, a preset name replaces them.
  const fromConfig = mergeModel(base, { encoder: { kind: 'vit', dim: 16, heads: 2 } });
  assert.deepEqual(fromConfig.encoder, { ...ENCODER_DEFAULTS.vit, dim: 16, heads: 2 });
  assert.deepEqual(patchModel(fromConfig, { encoder: 'vit' }).encoder, fromConfig.encoder);
  assert.deepEqual(patchModel(fromConfig, { encoder: 'vit-tiny' }).encoder, encoderSpecFor('vit-tiny'));
});

test('a run spec with a bad ViT is refused naming the field under model.encoder', () => {
  const spec = tinySpec(1);
  spec.model.encoder = { ...small, heads: 3 };
  assert.throws(
    () => resolveRunSpec(spec),
    /argument `model\.encoder\.heads`\. Expected a divisor of dim=16/,
  );
  spec.model.encoder = { ...small, window: 2 } as VitSpec;
  assert.throws(() => resolveRunSpec(spec), /argument `model\.encoder\.window`\. Expected no such key/);
  spec.model.encoder = small;
  assert.equal(resolveRunSpec(spec).model.encoder.kind, 'vit');
});

test('a tiny ViT run trains, reloads for evaluation and exports to a layers model with equal outputs', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-vit-'));
  const run = join(dir, 'run');
  const dataset = quadrantDataset(); // 8×8 grey images: 4 tokens of 4×4
  const spec = tinySpec(2);
  spec.model.encoder = small;
  const { trainer } = await trainRun(spec, run, { dataset });
  trainer.dispose();
  const losses = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { loss?: number })
    .filter((r) => typeof r.loss === 'number')
    .map((r) => r.loss!);
  assert.ok(losses.length > 0 && losses.every(Number.isFinite), `finite losses: ${losses.join(', ')}`);
  const out = join(dir, 'export');
  const result = await exportRun(run, out, { dataset });
  assert.equal(result.output, 'features');
  assert.equal(result.outputDim, 16);
  const loaded = await loadExportedModel(out);
  const { encoder } = await loadRunEncoder(run, dataset);
  const x = tf.randomNormal([5, 8, 8, 1], 0, 1, 'float32', 3);
  const ours = encoder.apply(x, false);
  const theirs = loaded.predict(x) as tf.Tensor;
  assert.deepEqual(theirs.shape, [5, 16]);
  const gap = tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0]!;
  assert.ok(gap < 1e-5, `exported ViT equals the run's encoder (max gap ${gap})`);
  tf.dispose([x, ours, theirs, ...encoder.variables().map((p) => p.variable)]);
  loaded.dispose();
  rmSync(dir, { recursive: true });
});
