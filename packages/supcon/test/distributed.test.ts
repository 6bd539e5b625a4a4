/**
 * Data-parallel math (train/distributed.ts), without a transport: each rank's `shardGradients` is
 * computed in turn, its all-gather answered with every shard's embeddings (forwarded beforehand with
 * the same weights), and the rank gradients are summed as the all-reduce would. The sum must equal the
 * single-process gradient of the whole batch; averaging per-shard losses must not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import {
  linearClassifier,
  methodLoss,
  mlpEncoder,
  type Network,
  type Parameter,
  projectionHead,
  resolveConfig,
  shardGradients,
  shardRange,
} from 'supcon';

const BATCH = 12;
const VIEWS = 2;
const SHAPE = [3, 3, 1] as const;
const config = resolveConfig({ method: 'supcon', views: VIEWS, temperature: 0.2 });
const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % 3);

/** Dense → tanh, no batch statistics: features [n, 8]. */
let plainCount = 0;
function plainEncoder(): Network {
  plainCount++;
  const w = tf.variable(tf.randomNormal([9, 8], 0, 0.6, 'float32', 21), true, `dist_plain${plainCount}/w`);
  const b = tf.variable(tf.randomNormal([8], 0, 0.1, 'float32', 22), true, `dist_plain${plainCount}/b`);
  const ps: Parameter[] = [
    { name: 'w', variable: w },
    { name: 'b', variable: b },
  ];
  return {
    apply: (x) => tf.tanh(tf.add(tf.matMul(tf.reshape(x, [x.shape[0]!, -1]) as tf.Tensor2D, w), b)),
    outputDim: 8,
    parameters: () => [...ps],
    variables: () => [...ps],
  };
}

const inputs = tf.randomUniform([BATCH * VIEWS, ...SHAPE], 0, 1, 'float32', 5) as tf.Tensor4D; // [B·V, 3, 3, 1]
const rowsOf = (s: { start: number; end: number }) =>
  tf.slice(inputs, [s.start * VIEWS, 0, 0, 0], [(s.end - s.start) * VIEWS, -1, -1, -1]) as tf.Tensor4D;

function paramsOf(encoder: Network, head: Network): Parameter[] {
  return [...encoder.parameters(), ...head.parameters()];
}

/** The summed rank gradients of a P-worker step, with the all-gather simulated. */
function dataParallelGradient(encoder: Network, head: Network, size: number, cfg = config) {
  const params = paramsOf(encoder, head);
  const shards = Array.from({ length: size }, (_, r) => shardRange(BATCH, r, size));
  const z = shards.map((s) => tf.tidy(() => head.apply(encoder.apply(rowsOf(s), true), true).dataSync()));
  const all = new Float32Array(z.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of z) {
    all.set(a, at);
    at += a.length;
  }
  const sum: tf.Tensor[] = params.map((p) => tf.zerosLike(p.variable as tf.Tensor));
  const losses: number[] = [];
  shards.forEach((shard, r) => {
    const x = rowsOf(shard);
    const { loss, grads } = shardGradients({
      encoder,
      head,
      inputs: x,
      labels,
      shard,
      config: cfg,
      params,
      allGather: (local) => {
        assert.deepEqual(Array.from(local), Array.from(z[r]!), 'a rank gathers its own embeddings');
        return all;
      },
    });
    losses.push(loss);
    grads.forEach((g, i) => {
      const next = tf.add(sum[i]!, g);
      sum[i]!.dispose();
      sum[i] = next;
    });
    tf.dispose([...grads, x]);
  });
  return { losses, grads: sum };
}

/** Single process: the whole batch, or (perShard) each shard forwarded on its own ("ghost" BatchNorm). */
function singleProcessGradient(encoder: Network, head: Network, perShard = 0, cfg = config) {
  const params = paramsOf(encoder, head);
  const forward = () => {
    if (perShard === 0) return head.apply(encoder.apply(inputs, true), true) as tf.Tensor2D; // [B·V, D]
    const parts = Array.from({ length: perShard }, (_, r) =>
      head.apply(encoder.apply(rowsOf(shardRange(BATCH, r, perShard)), true), true),
    );
    return tf.concat(parts, 0) as tf.Tensor2D; // [B·V, D]
  };
  const { value, grads } = tf.variableGrads(
    () => methodLoss(cfg.method, forward(), labels, VIEWS, cfg),
    params.map((p) => p.variable),
  );
  return { loss: value.dataSync()[0]!, grads: params.map((p) => grads[p.variable.name]!) };
}

function relativeError(a: tf.Tensor[], b: tf.Tensor[]): number {
  let num = 0;
  let den = 0;
  a.forEach((t, i) => {
    const x = t.dataSync();
    const y = b[i]!.dataSync();
    for (let j = 0; j < x.length; j++) {
      num = Math.max(num, Math.abs(x[j]! - y[j]!));
      den = Math.max(den, Math.abs(y[j]!));
    }
  });
  return num / den;
}

describe('data-parallel gradient', () => {
  it('shards a batch contiguously, sizes differing by at most one', () => {
    assert.deepEqual(
      [0, 1, 2].map((r) => shardRange(10, r, 3)),
      [
        { start: 0, end: 3 },
        { start: 3, end: 6 },
        { start: 6, end: 10 },
      ],
    );
    assert.throws(() => shardRange(1, 0, 2), /batchSize/);
  });

  it('sums to the single-process gradient without batch statistics (2 and 5 ranks)', () => {
    const encoder = plainEncoder();
    const head = projectionHead({ inputDim: 8, outputDim: 4, seed: 3 });
    const single = singleProcessGradient(encoder, head);
    for (const size of [2, 5]) {
      const dp = dataParallelGradient(encoder, head, size);
      for (const loss of dp.losses)
        assert.ok(Math.abs(loss - single.loss) < 1e-6, `loss ${loss} vs ${single.loss}`);
      const err = relativeError(dp.grads, single.grads);
      assert.ok(err < 1e-5, `relative error ${err} with ${size} ranks`);
      tf.dispose(dp.grads);
    }
  });

  it('sums to the single-process gradient for simclr and cross-entropy too', () => {
    const encoder = plainEncoder();
    const cases = [
      {
        cfg: resolveConfig({ method: 'simclr', views: VIEWS }),
        head: projectionHead({ inputDim: 8, outputDim: 4 }),
      },
      {
        cfg: resolveConfig({ method: 'ce', views: VIEWS }),
        head: linearClassifier({ inputDim: 8, classes: 3 }),
      },
    ];
    for (const { cfg, head } of cases) {
      const single = singleProcessGradient(encoder, head, 0, cfg);
      const dp = dataParallelGradient(encoder, head, 3, cfg);
      const err = relativeError(dp.grads, single.grads);
      assert.ok(err < 1e-5, `${cfg.method}: relative error ${err}`);
      tf.dispose(dp.grads);
    }
  });

  it('differs from averaging the gradients of per-shard losses (the loss couples the shards)', () => {
    const encoder = plainEncoder();
    const head = projectionHead({ inputDim: 8, outputDim: 4, seed: 3 });
    const single = singleProcessGradient(encoder, head);
    const params = paramsOf(encoder, head);
    const averaged = tf.tidy(() => {
      const per = [0, 1].map((r) => {
        const s = shardRange(BATCH, r, 2);
        const shardLabels = labels.subarray(s.start, s.end);
        const { grads } = tf.variableGrads(
          () =>
            methodLoss(
              'supcon',
              head.apply(encoder.apply(rowsOf(s), true), true) as tf.Tensor2D,
              shardLabels,
              VIEWS,
              config,
            ),
          params.map((p) => p.variable),
        );
        return params.map((p) => grads[p.variable.name]!);
      });
      return params.map((_, i) => tf.div(tf.add(per[0]![i]!, per[1]![i]!), 2));
    });
    const err = relativeError(averaged, single.grads);
    assert.ok(err > 0.05, `averaged per-shard gradients should differ, relative error ${err}`);
  });

  it('with BatchNorm, equals a single process that normalises each shard on its own', () => {
    const encoder = mlpEncoder({ inputDim: 9, hidden: [10, 8], seed: 7 });
    const head = projectionHead({ inputDim: 8, outputDim: 4, seed: 3 });
    const ghost = singleProcessGradient(encoder, head, 2);
    const full = singleProcessGradient(encoder, head, 0);
    const dp = dataParallelGradient(encoder, head, 2);
    const err = relativeError(dp.grads, ghost.grads);
    assert.ok(err < 1e-5, `relative error ${err} against per-shard BatchNorm`);
    const fullErr = relativeError(dp.grads, full.grads);
    assert.ok(fullErr > 1e-3, `per-shard BatchNorm should differ from full-batch BatchNorm (${fullErr})`);
  });

  it('leaks no tensors', () => {
    const encoder = plainEncoder();
    const head = projectionHead({ inputDim: 8, outputDim: 4, seed: 3 });
    tf.dispose(dataParallelGradient(encoder, head, 2).grads);
    const before = tf.memory().numTensors;
    tf.dispose(dataParallelGradient(encoder, head, 2).grads);
    assert.equal(tf.memory().numTensors, before);
  });
});
