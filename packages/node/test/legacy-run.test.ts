/**
 * Run folders written before the model description became `{ encoder, head }` still load, and
 * evaluate, export and resume as they did. The config.json files below are what that code wrote
 * (a flat `model`); the checkpoints in test/fixtures/legacy-run were written by it (commit c1e4c30):
 * `trainRun` of each spec for one epoch on `quadrantDataset()` without prefetching. expected.json
 * holds what that code computed from them: the encoder's features of a fixed input (loadRunEncoder)
 * and, after `--resume --epochs 2`, the epoch's step losses and the SHA-256 of the final weights and
 * optimiser slots. The ResNet run also keeps the old ResNet head's names (`head/head/w1` …).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  exportMetadata,
  exportRun,
  loadCheckpoint,
  loadExportedModel,
  loadRunEncoder,
  readSpec,
  resolveRunSpec,
  trainRun,
} from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';
import type { TrainerState } from 'supcon';
import { quadrantDataset } from './train-fixture.js';

const fixtures = fileURLToPath(new URL('../../test/fixtures/legacy-run/', import.meta.url));
const expected = JSON.parse(readFileSync(join(fixtures, 'expected.json'), 'utf8')) as Record<
  string,
  { features: number[]; resumedLosses: number[]; resumedStateSha256: string }
>;

const train = (method: string, views: number) => ({
  method,
  epochs: 1,
  batchSize: 16,
  views,
  temperature: 0.1,
  optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 0.0001 },
  lr: 0.1,
  decay: 'cosine',
  warmupEpochs: 0.5,
  minLr: 0,
  milestones: [],
  gamma: 0.1,
  scaleWithBatch: false,
  seed: 4,
  queueSize: 0,
  chunkRows: 0,
});
const rest = {
  data: { dataset: 'synthetic', validation: 16, limit: 0, augment: 'light' },
  checkpointEvery: 100,
  knnK: 0,
  probeEpochs: 5,
  precision: 'fp32',
};

/** config.json as the code before `{ encoder, head }` wrote it, and the model it reads as now. */
const RUNS = {
  resnet: {
    config: {
      train: train('supcon', 2),
      model: {
        encoder: 'resnet18',
        width: 16,
        blocksPerStage: 1,
        stemStride: 2,
        hidden: [512, 256],
        stem: 'cifar',
        widthMultiplier: 0.015625,
        projection: 'mlp',
        projectionDim: 8,
        normalizeEncoderOutput: false,
      },
      ...rest,
    },
    model: {
      encoder: { kind: 'resnet', depth: 18, stem: 'cifar', widthMultiplier: 0.015625 },
      head: { kind: 'projection', projection: 'mlp', outputDim: 8, normalizeInput: false },
    },
    output: 'embeddings',
  },
  ce: {
    config: {
      train: train('ce', 1),
      model: {
        encoder: 'small-resnet',
        width: 4,
        blocksPerStage: 1,
        stemStride: 2,
        hidden: [512, 256],
        projection: 'mlp',
        projectionDim: 128,
        normalizeEncoderOutput: false,
      },
      ...rest,
    },
    model: {
      encoder: { kind: 'small-resnet', baseChannels: 4, blocksPerStage: 1, stemStride: 2 },
      head: { kind: 'classifier' },
    },
    output: 'logits',
  },
} as const;

/** The SHA-256 of every weight and optimiser slot, in the checkpoint's order (names left out). */
function stateHash(state: TrainerState): string {
  const h = createHash('sha256');
  for (const v of [...Object.values(state.variables), ...Object.values(state.optimizer.slots)])
    h.update(Buffer.from(v.values.buffer, v.values.byteOffset, v.values.byteLength));
  return h.digest('hex');
}

for (const [name, run] of Object.entries(RUNS)) {
  test(`an old ${name} run folder (flat model in config.json) evaluates, exports and resumes as before`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'supcon-legacy-'));
    const dir = join(root, 'run');
    mkdirSync(dir);
    writeFileSync(join(dir, 'config.json'), `${JSON.stringify(run.config, null, 2)}\n`);
    copyFileSync(join(fixtures, `${name}.checkpoint.bin`), join(dir, 'checkpoint.bin'));
    const dataset = quadrantDataset();
    const want = expected[name]!;

    // Read upgraded, and complete: it resolves to itself.
    const spec = readSpec(dir);
    assert.deepEqual(spec.model, run.model);
    assert.deepEqual(resolveRunSpec(spec), spec);
    if (name === 'resnet') {
      const { variables, optimizer } = loadCheckpoint(join(dir, 'checkpoint.bin')).state;
      assert.ok('head/dense0/kernel' in variables && !('head/head/w1' in variables));
      assert.ok(Object.keys(optimizer.slots).some((k) => k.startsWith('head/dense0/kernel/')));
    }

    // Evaluation loads the encoder: the same features, bit for bit.
    const { encoder } = await loadRunEncoder(dir, dataset);
    const x = tf.randomNormal([3, 8, 8, 1], 0, 1, 'float32', 7);
    const features = encoder.apply(x, false);
    assert.deepEqual(Array.from(features.dataSync()), want.features);
    tf.dispose([features, ...encoder.variables().map((p) => p.variable)]);

    // Export with the head: the layers model's metadata records the upgraded model.
    const out = join(root, 'export');
    const exported = await exportRun(dir, out, { dataset, withHead: true });
    assert.equal(exported.output, run.output);
    const model = await loadExportedModel(out);
    assert.deepEqual(exportMetadata(model)!.model, run.model);
    const y = model.predict(x) as tf.Tensor;
    assert.equal(y.shape[1], run.model.head.kind === 'classifier' ? 4 : 8);
    tf.dispose([x, y]);
    model.dispose();

    // --resume --epochs 2: the same steps and the same final weights and slots, bit for bit.
    const { trainer } = await trainRun(spec, dir, { dataset, resume: true, epochs: 2, prefetch: false });
    tf.dispose([...trainer.encoder.variables(), ...trainer.head.variables()].map((p) => p.variable));
    trainer.dispose();
    const losses = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; epoch: number; loss: number })
      .filter((r) => r.type === 'step' && r.epoch === 1)
      .map((r) => r.loss);
    assert.deepEqual(losses, want.resumedLosses);
    assert.equal(stateHash(loadCheckpoint(join(dir, 'checkpoint.bin')).state), want.resumedStateSha256);
    // The lengthened run's config.json is written in the current format.
    const rewritten = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(rewritten.model, run.model);
    rmSync(root, { recursive: true, force: true });
  });
}
