/**
 * SyncBatchNorm (models/sync_batch_norm.ts) without a transport: the replicas run one after another
 * in this process, and a fake group answers each collective with the sum (or concatenation) of every
 * replica's contribution to that same call (lockstep.ts: a replay, since one replica cannot wait for
 * another in one thread). The replicas' results must equal plain BatchNorm on the whole batch in one
 * process.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  type BatchNormParams,
  batchNorm,
  type Collectives,
  createBatchNorm,
  methodLoss,
  mlpEncoder,
  type Network,
  projectionHead,
  resolveConfig,
  shardGradients,
  shardRange,
  Trainer,
  variableGrads,
  withSyncBatchNorm,
} from 'supcon';
import { rng } from './helpers.js';
import { lockstep } from './lockstep.js';

/** A fixed pseudo-random float32 tensor: values uniform in [offset − scale, offset + scale]. */
function tensorOf(seed: number, shape: number[], offset = 0, scale = 1): tf.Tensor {
  const r = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: size }, () => offset + scale * (2 * r() - 1)),
    shape,
  );
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const C = 4;
const SHAPE = [10, 3, 3, C]; // [B, H, W, C] NHWC
const initial = {
  gamma: Array.from({ length: C }, (_, c) => 0.5 + 0.3 * c),
  beta: Array.from({ length: C }, (_, c) => 0.2 * c - 0.3),
};
let created = 0;

/** BatchNorm parameters with γ, β away from 1, 0 (so their gradients matter). */
function params(): BatchNormParams {
  const p = createBatchNorm(C, `sync_bn_test${created++}`);
  p.gamma.assign(tf.tensor1d(initial.gamma));
  p.beta.assign(tf.tensor1d(initial.beta));
  return p;
}

interface StepResult {
  y: Float32Array;
  dx: Float32Array;
  dGamma: Float32Array;
  dBeta: Float32Array;
  runningMean: Float32Array;
  runningVar: Float32Array;
}

/**
 * Two training steps of relu(BatchNorm(x) + residual) on rows [start, end) of each step's batch, the
 * loss Σ w ⊙ y; the second step starts from the running statistics the first left (a non-zero shift).
 */
function twoSteps(p: BatchNormParams, start: number, end: number): StepResult[] {
  const out: StepResult[] = [];
  for (let step = 0; step < 2; step++) {
    const rows = [end - start, ...SHAPE.slice(1)];
    const slice = (t: tf.Tensor) => tf.slice(t, [start, 0, 0, 0], rows);
    const result = tf.tidy(() => {
      // Channel means far from 0 (up to 3 standard deviations): the case the shift is for.
      const x = tf.variable(slice(tensorOf(10 + step, SHAPE, 1.5 + step, 0.8)), true); // [n, H, W, C]
      const residual = slice(tensorOf(20 + step, SHAPE)); // [n, H, W, C]
      const w = slice(tensorOf(30 + step, SHAPE)); // [n, H, W, C]
      let y: Float32Array | undefined; // read inside: the forward's tensors are gone after it
      const { grads } = variableGrads(() => {
        const out = batchNorm(x, p, { training: true, relu: true, residual }); // [n, H, W, C]
        y = out.dataSync() as Float32Array;
        return tf.sum(tf.mul(out, w)) as tf.Scalar;
      }, [x, p.gamma, p.beta]);
      const r = {
        y: y!,
        dx: grads[x.name]!.dataSync() as Float32Array,
        dGamma: grads[p.gamma.name]!.dataSync() as Float32Array,
        dBeta: grads[p.beta.name]!.dataSync() as Float32Array,
        runningMean: p.runningMean.dataSync().slice() as Float32Array,
        runningVar: p.runningVar.dataSync().slice() as Float32Array,
      };
      x.dispose();
      return r;
    });
    out.push(result);
  }
  return out;
}

describe('SyncBatchNorm', () => {
  it('on shards of a batch equals BatchNorm on the whole batch: output, gradients, running statistics', () => {
    const whole = params();
    const single = twoSteps(whole, 0, SHAPE[0]!);
    for (const bounds of [
      [0, 5, 10], // two half-batches
      [0, 3, 10], // uneven
      [0, 2, 6, 10], // three replicas
    ]) {
      const size = bounds.length - 1;
      const replicas = Array.from({ length: size }, () => params());
      const reset = () => {
        for (const p of replicas) {
          p.gamma.assign(tf.tensor1d(initial.gamma));
          p.beta.assign(tf.tensor1d(initial.beta));
          p.runningMean.assign(tf.zeros([C]));
          p.runningVar.assign(tf.ones([C]));
        }
      };
      const results = lockstep(size, reset, (rank, group) =>
        withSyncBatchNorm(group, () => twoSteps(replicas[rank]!, bounds[rank]!, bounds[rank + 1]!)),
      );
      for (let step = 0; step < 2; step++) {
        const s = single[step]!;
        const at = `step ${step}, shards ${bounds.join('/')}`;
        const cat = (key: 'y' | 'dx') => Float32Array.from(results.flatMap((r) => Array.from(r[step]![key])));
        const summed = (key: 'dGamma' | 'dBeta') =>
          Float32Array.from({ length: C }, (_, c) => results.reduce((a, r) => a + r[step]![key][c]!, 0));
        assert.ok(maxAbsDiff(cat('y'), s.y) < 1e-5, `${at}: y`);
        assert.ok(maxAbsDiff(cat('dx'), s.dx) < 1e-5, `${at}: dL/dx`);
        assert.ok(maxAbsDiff(summed('dGamma'), s.dGamma) < 1e-5, `${at}: Σ dL/dγ`);
        assert.ok(maxAbsDiff(summed('dBeta'), s.dBeta) < 1e-5, `${at}: Σ dL/dβ`);
        for (const r of results) {
          assert.ok(maxAbsDiff(r[step]!.runningMean, s.runningMean) < 1e-6, `${at}: running mean`);
          assert.ok(maxAbsDiff(r[step]!.runningVar, s.runningVar) < 1e-6, `${at}: running variance`);
          // The same bits on every replica (they all compute from the same sums).
          assert.deepEqual(r[step]!.runningVar, results[0]![step]!.runningVar);
        }
      }
      // Without the group each shard is normalised alone: a different output (the test can fail).
      reset();
      const ghost = twoSteps(replicas[0]!, bounds[0]!, bounds[1]!)[0]!;
      const rows = ghost.y.length;
      assert.ok(maxAbsDiff(ghost.y, single[0]!.y.subarray(0, rows)) > 1e-2, 'per-shard BatchNorm differs');
      for (const p of replicas) tf.dispose(Object.values(p));
    }
    tf.dispose(Object.values(whole));
  });

  it('keeps the live tensor count across steps, and a group of one is plain BatchNorm', () => {
    const alone: Collectives = {
      rank: 0,
      size: 1,
      allReduceSum: (v) => v.slice(),
      allGather: (v) => v.slice(),
    };
    const plain = params();
    const synced = params();
    const reference = twoSteps(plain, 0, SHAPE[0]!);
    twoSteps(synced, 0, SHAPE[0]!); // warms up whatever tfjs caches on a first call
    synced.runningMean.assign(tf.zeros([C]));
    synced.runningVar.assign(tf.ones([C]));
    const before = tf.memory().numTensors;
    const results = withSyncBatchNorm(alone, () => twoSteps(synced, 0, SHAPE[0]!));
    assert.equal(tf.memory().numTensors, before, 'no tensor left behind');
    for (const [i, r] of results.entries()) {
      assert.ok(maxAbsDiff(r.y, reference[i]!.y) < 1e-5);
      assert.ok(maxAbsDiff(r.dx, reference[i]!.dx) < 1e-5);
      assert.ok(maxAbsDiff(r.runningVar, reference[i]!.runningVar) < 1e-6);
    }
    tf.dispose([...Object.values(plain), ...Object.values(synced)]);
  });
});

describe('data-parallel gradient with SyncBatchNorm', () => {
  const BATCH = 9;
  const VIEWS = 2;
  const config = resolveConfig({ method: 'supcon', views: VIEWS, temperature: 0.2 });
  const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 5) % 3);
  const inputs = tensorOf(3, [BATCH * VIEWS, 4, 4, 1], 0.4, 0.4) as tf.Tensor4D; // [B·V, 4, 4, 1]

  function network(): { encoder: Network; head: Network } {
    const encoder = mlpEncoder({ inputDim: 16, hidden: [12, 8], seed: 4 }); // two BatchNorm layers
    return { encoder, head: projectionHead({ inputDim: 8, outputDim: 6, seed: 5 }) };
  }

  it('2 and 3 ranks sum to the whole-batch gradient, with the whole batch running statistics', () => {
    const { encoder, head } = network();
    const params = [...encoder.parameters(), ...head.parameters()];
    const all = [...encoder.variables(), ...head.variables()];
    const start = all.map((p) => p.variable.dataSync().slice());
    const reset = () => {
      for (const [i, p] of all.entries()) p.variable.assign(tf.tensor(start[i]!, p.variable.shape));
    };
    const stats = () => all.filter((p) => !p.variable.trainable).map((p) => p.variable.dataSync().slice());

    reset();
    const single = tf.tidy(() => {
      const { grads } = variableGrads(
        () => {
          const z = head.apply(encoder.apply(inputs, true), true) as tf.Tensor2D; // [B·V, D]
          return methodLoss(config.method, z, labels, VIEWS, config);
        },
        params.map((p) => p.variable),
      );
      return params.map((p) => grads[p.variable.name]!.dataSync().slice());
    });
    const singleStats = stats();

    for (const size of [2, 3]) {
      const results = lockstep(size, reset, (rank, group) => {
        const shard = shardRange(BATCH, rank, size);
        const x = tf.slice(
          inputs,
          [shard.start * VIEWS, 0, 0, 0],
          [(shard.end - shard.start) * VIEWS, -1, -1, -1],
        );
        const { grads } = shardGradients({
          encoder,
          head,
          inputs: x as tf.Tensor4D,
          labels,
          shard,
          config,
          params,
          allGather: (z) => group.allGather(z),
          syncBatchNorm: group,
        });
        const out = { grads: grads.map((g) => g.dataSync().slice()), stats: stats() };
        tf.dispose([...grads, x]);
        return out;
      });
      let num = 0;
      let den = 0;
      single.forEach((g, i) => {
        const sum = g.map((_, j) => results.reduce((a, r) => a + r.grads[i]![j]!, 0));
        num = Math.max(num, maxAbsDiff(sum, g));
        den = Math.max(den, ...g.map(Math.abs));
      });
      assert.ok(num / den < 1e-5, `relative error ${num / den} with ${size} ranks`);
      for (const r of results)
        for (const [i, s] of r.stats.entries())
          assert.ok(maxAbsDiff(s, singleStats[i]!) < 1e-6, `running statistic ${i}`);
    }
  });
});

describe('syncBatchNorm in one process', () => {
  it('is a no-op: the Trainer ends with the same bits with and without it', () => {
    const count = 12;
    const r = rng(9);
    const data = {
      images: Uint8Array.from({ length: count * 16 }, () => Math.floor(256 * r())),
      labels: Int32Array.from({ length: count }, (_, i) => i % 3),
      count,
      height: 4,
      width: 4,
      channels: 1,
    };
    const states = [false, true].map((syncBatchNorm) => {
      const config = resolveConfig({ method: 'supcon', epochs: 1, batchSize: 6, lr: 0.1, syncBatchNorm });
      const trainer = new Trainer({
        config,
        encoder: mlpEncoder({ inputDim: 16, hidden: [8], seed: 2 }),
        head: projectionHead({ inputDim: 8, outputDim: 4, seed: 3 }),
        data,
      });
      trainer.run();
      const state = trainer.state();
      trainer.dispose();
      return { config, values: Object.values(state.variables).map((v) => Array.from(v.values)) };
    });
    assert.equal(states[1]!.config.syncBatchNorm, true);
    assert.equal('syncBatchNorm' in states[0]!.config, false, 'false is not stored');
    assert.deepEqual(states[1]!.values, states[0]!.values);
  });
});
