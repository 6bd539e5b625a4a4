/**
 * The memory queue and gradient caching in the data-parallel trainer (train/distributed.ts), with the
 * ranks simulated in one process (lockstep.ts): a few steps of 2 ranks end where one process does.
 *   - queue: every rank's queue holds the gathered batches, so with SyncBatchNorm (exact BatchNorm)
 *     every variable, the queue's rows and labels included, equals the one-process Trainer's (1e-5);
 *   - gradient caching: each rank chunks its shard; with chunks that are the same rows as the one
 *     process's chunks, the trained weights equal its (BatchNorm per chunk alike; the running
 *     statistics are averaged over ranks, as without chunks, so they are left out);
 *   - SyncBatchNorm with gradient caching over several ranks is refused naming `chunkRows`.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  type Collectives,
  DataParallelTrainer,
  mlpEncoder,
  projectionHead,
  resolveConfig,
  type TrainConfig,
  Trainer,
  type TrainerState,
} from 'supcon';
import { rng } from './helpers.js';
import { lockstep } from './lockstep.js';

const COUNT = 16;
const r = rng(11);
const data = {
  images: Uint8Array.from({ length: COUNT * 16 }, () => Math.floor(256 * r())),
  labels: Int32Array.from({ length: COUNT }, (_, i) => i % 3),
  count: COUNT,
  height: 4,
  width: 4,
  channels: 1,
};

/** A fresh encoder (one BatchNorm layer) and head, the same seeded weights every time. */
function networks() {
  return {
    encoder: mlpEncoder({ inputDim: 16, hidden: [8], seed: 2 }),
    head: projectionHead({ inputDim: 8, outputDim: 4, seed: 3 }),
  };
}

function dispose(n: ReturnType<typeof networks>): void {
  tf.dispose([...n.encoder.variables(), ...n.head.variables()].map((p) => p.variable));
}

/** The one-process Trainer's state after training `config` to the end. */
function oneProcess(config: TrainConfig): TrainerState {
  const n = networks();
  const trainer = new Trainer({ config, ...n, data });
  trainer.run();
  const state = trainer.state();
  trainer.dispose();
  dispose(n);
  return state;
}

/** Every rank's state after training `config` to the end on `size` simulated ranks. */
function dataParallel(config: TrainConfig, size: number): TrainerState[] {
  return lockstep(
    size,
    () => {},
    (_rank, collectives: Collectives) => {
      const n = networks();
      const trainer = new DataParallelTrainer({ config, ...n, data, collectives });
      try {
        while (!trainer.position.done) trainer.step();
        return trainer.state();
      } finally {
        trainer.dispose();
        dispose(n);
      }
    },
  );
}

/** The largest relative difference over the variables `keep` selects, and where. */
function farthest(a: TrainerState, b: TrainerState, keep: (name: string) => boolean = () => true) {
  let worst = { name: '', error: 0 };
  for (const [name, v] of Object.entries(b.variables)) {
    if (!keep(name)) continue;
    const got = a.variables[name];
    assert.ok(got, `${name} is in both states`);
    let num = 0;
    let den = 0;
    for (let i = 0; i < v.values.length; i++) {
      num = Math.max(num, Math.abs(got.values[i]! - v.values[i]!));
      den = Math.max(den, Math.abs(v.values[i]!));
    }
    if (num / Math.max(den, 1e-30) > worst.error) worst = { name, error: num / Math.max(den, 1e-30) };
  }
  return worst;
}

describe('data-parallel queue and gradient caching', () => {
  for (const method of ['supcon', 'simclr'] as const) {
    it(`${method}: 2 ranks with a queue end where one process does, queue included`, () => {
      // 4 steps of 16 rows into 24 slots: the queue wraps around.
      const config = resolveConfig({
        method,
        epochs: 2,
        batchSize: 8,
        lr: 0.1,
        queueSize: 24,
        syncBatchNorm: true,
      });
      const single = oneProcess(config);
      assert.equal(single.variables['queue/labels']?.values.length, 24, 'the queue is full');
      const ranks = dataParallel(config, 2);
      for (const state of ranks) {
        assert.equal(state.iteration, single.iteration);
        const worst = farthest(state, single);
        assert.ok(worst.error < 1e-5, `${worst.name}: relative difference ${worst.error}`);
      }
      assert.deepEqual(ranks[1]!.variables, ranks[0]!.variables, 'the ranks hold the same bits');
    });
  }

  it('2 ranks with gradient caching end with the weights of one process with the same chunks', () => {
    // Batch 8 × 2 views = 16 rows; the ranks' chunks of 4 rows are the one process's 4 chunks.
    const config = resolveConfig({ method: 'supcon', epochs: 2, batchSize: 8, lr: 0.1, chunkRows: 4 });
    const single = oneProcess(config);
    const trained = (name: string) => !/running_/.test(name);
    for (const state of dataParallel(config, 2)) {
      const worst = farthest(state, single, trained);
      assert.ok(worst.error < 1e-5, `${worst.name}: relative difference ${worst.error}`);
    }
    // Without chunks BatchNorm sees 8 rows per rank instead of 4: other weights (the test can fail).
    const whole = oneProcess({ ...config, chunkRows: 0 });
    assert.ok(farthest(whole, single, trained).error > 1e-3, 'chunking changes the BatchNorm batches');
  });

  it('refuses SyncBatchNorm with gradient caching over several ranks', () => {
    const config = resolveConfig({ batchSize: 8, chunkRows: 4, syncBatchNorm: true });
    const collectives: Collectives = {
      rank: 0,
      size: 2,
      allGather: (v) => v,
      allReduceSum: (v) => v,
    };
    const n = networks();
    assert.throws(
      () => new DataParallelTrainer({ config, ...n, data, collectives }),
      /argument `chunkRows`. Expected 0 with syncBatchNorm over several processes.*Received: chunkRows=4/,
    );
    dispose(n);
  });
});
