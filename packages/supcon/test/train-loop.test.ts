/**
 * The one loop of TrainerBase (train/base.ts) that Trainer and DataParallelTrainer share: a
 * one-rank data-parallel trainer reports the same step and epoch records as the one-process Trainer
 * through the same `steps()` hooks, and `step()` alone closes each epoch (its running sums reset), so
 * a checkpoint written at an epoch end holds an empty epoch however the steps were driven.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  type Collectives,
  DataParallelTrainer,
  type EpochRecord,
  mlpEncoder,
  projectionHead,
  resolveConfig,
  type StepRecord,
  Trainer,
  type TrainerBase,
} from 'supcon';
import { rng } from './helpers.js';

const COUNT = 20;
const r = rng(5);
const data = {
  images: Uint8Array.from({ length: COUNT * 16 }, () => Math.floor(256 * r())),
  labels: Int32Array.from({ length: COUNT }, (_, i) => i % 4),
  count: COUNT,
  height: 4,
  width: 4,
  channels: 1,
};
// 20 images in batches of 5: 4 steps an epoch, 3 epochs.
const config = resolveConfig({ method: 'supcon', epochs: 3, batchSize: 5, lr: 0.05, warmupEpochs: 0 });

/** One rank alone: the gather and the sum are the identity. */
const alone: Collectives = {
  rank: 0,
  size: 1,
  allGather: (local) => local.slice(),
  allReduceSum: (values) => values.slice(),
};

function networks() {
  return {
    encoder: mlpEncoder({ inputDim: 16, hidden: [8], seed: 2 }),
    head: projectionHead({ inputDim: 8, outputDim: 4, seed: 3 }),
  };
}

function dispose(t: TrainerBase): void {
  t.dispose();
  tf.dispose([...t.encoder.variables(), ...t.head.variables()].map((p) => p.variable));
}

/** Every record the hooks report, in order, without the timings. */
function records(t: TrainerBase): object[] {
  const out: object[] = [];
  const keep = ({
    seconds: _s,
    imagesPerSecond: _i,
    ...rest
  }: StepRecord | (EpochRecord & { imagesPerSecond?: number })) => out.push(rest);
  for (const _ of t.steps({ afterStep: keep, afterEpoch: keep }));
  return out;
}

describe('the shared training loop', () => {
  it('reports the same step and epoch records for the one-process Trainer and a one-rank group', () => {
    const single = new Trainer({ config, ...networks(), data });
    const expected = records(single);
    const rank = new DataParallelTrainer({ config, ...networks(), data, collectives: alone });
    const got = records(rank);
    assert.equal(expected.filter((x) => (x as { type: string }).type === 'epoch').length, 3);
    assert.equal(expected.length, 3 * 4 + 3);
    const epochEnds = expected.flatMap((x, i) => ((x as { type: string }).type === 'epoch' ? [i] : []));
    assert.deepEqual(epochEnds, [4, 9, 14], 'each epoch record right after its last step');
    assert.deepEqual(got, expected);
    dispose(single);
    dispose(rank);
  });

  it('closes the epoch in step() too: the state at an epoch end holds an empty epoch, as steps() leaves it', () => {
    for (const make of [
      () => new Trainer({ config, ...networks(), data }),
      () => new DataParallelTrainer({ config, ...networks(), data, collectives: alone }),
    ]) {
      const byStep = make();
      const losses: number[] = [];
      for (let i = 0; i < 4; i++) losses.push(byStep.step().loss);
      assert.deepEqual(byStep.state().epochLoss, { sum: 0, steps: 0 });
      const next = byStep.step().loss;
      assert.deepEqual(byStep.state().epochLoss, { sum: next, steps: 1 });
      const byLoop = make();
      const epochs: EpochRecord[] = [];
      byLoop.run({ afterEpoch: (e) => epochs.push(e), stop: () => byLoop.position.iteration === 4 });
      assert.equal(epochs.length, 1);
      assert.equal(epochs[0]!.loss, losses.reduce((a, b) => a + b) / 4);
      assert.deepEqual(byLoop.state().epochLoss, { sum: 0, steps: 0 });
      dispose(byStep);
      dispose(byLoop);
    }
  });
});
