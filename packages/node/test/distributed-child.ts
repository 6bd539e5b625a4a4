/**
 * One MPI rank of distributed.test.ts (started by mpirun). argv[2] is the case, argv[3] a folder for
 * each rank's findings (rank-R.json):
 *   gradient  the all-reduced gradient of one data-parallel step (batch 15: shards of 7 and 8 samples)
 *             against the one-process gradient that rank 0 computes itself: a dense encoder without
 *             BatchNorm (must agree to 1e-5) and the MLP encoder with BatchNorm (per-shard statistics);
 *   fail      trains the tiny run, and rank 1 throws after its second step.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { abortRank, loadMpi, MpiCollectives, selectBackend, trainRank } from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';
import {
  methodLoss,
  mlpEncoder,
  type Network,
  type Parameter,
  projectionHead,
  resolveConfig,
  shardGradients,
  shardRange,
} from 'supcon';
import { quadrantDataset, tinySpec } from './train-fixture.js';

await selectBackend('cpu');
const mpi = loadMpi().init();
const collectives = new MpiCollectives(mpi);
const { rank, size } = collectives;
const say = (o: object) =>
  writeFileSync(join(process.argv[3]!, `rank-${rank}.json`), JSON.stringify({ rank, ...o }));

const BATCH = 15;
const VIEWS = 2;
const config = resolveConfig({ method: 'supcon', views: VIEWS, temperature: 0.2 });
const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % 3);

/** Dense → tanh, no batch statistics: features [n, 8]; the same seeded weights on every rank. */
function plainEncoder(): Network {
  const w = tf.variable(tf.randomNormal([9, 8], 0, 0.6, 'float32', 21), true, 'plain/w');
  const b = tf.variable(tf.randomNormal([8], 0, 0.1, 'float32', 22), true, 'plain/b');
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

function flat(tensors: tf.Tensor[]): Float32Array {
  const out = new Float32Array(tensors.reduce((n, t) => n + t.size, 0));
  let at = 0;
  for (const t of tensors) {
    out.set(t.dataSync() as Float32Array, at);
    at += t.size;
  }
  return out;
}

function maxRelative(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

/** The 2-rank summed gradient, and (rank 0) its distance to one process's (per shard: BN per shard). */
function compare(encoder: Network, head: Network, perShard: boolean) {
  const inputs = tf.randomUniform([BATCH * VIEWS, 3, 3, 1], 0, 1, 'float32', 5) as tf.Tensor4D; // [B·V, 3, 3, 1]
  const rows = (s: { start: number; end: number }) =>
    tf.slice(inputs, [s.start * VIEWS, 0, 0, 0], [(s.end - s.start) * VIEWS, -1, -1, -1]) as tf.Tensor4D;
  const params = [...encoder.parameters(), ...head.parameters()];
  const shard = shardRange(BATCH, rank, size);
  const { grads } = shardGradients({
    encoder,
    head,
    inputs: rows(shard),
    labels,
    shard,
    config,
    params,
    allGather: (z) => collectives.allGather(z),
  });
  const sum = collectives.allReduceSum(flat(grads)).slice();
  const hash = createHash('sha256').update(new Uint8Array(sum.buffer)).digest('hex');
  if (rank !== 0) return { hash, shard };
  const forward = () => {
    if (!perShard) return head.apply(encoder.apply(inputs, true), true) as tf.Tensor2D; // [B·V, D]
    const parts = Array.from({ length: size }, (_, r) =>
      head.apply(encoder.apply(rows(shardRange(BATCH, r, size)), true), true),
    );
    return tf.concat(parts, 0) as tf.Tensor2D; // [B·V, D], each shard normalised on its own
  };
  const single = tf.variableGrads(
    () => methodLoss('supcon', forward(), labels, VIEWS, config),
    params.map((p) => p.variable),
  );
  const expected = flat(params.map((p) => single.grads[p.variable.name]!));
  return { hash, shard, error: maxRelative(sum, expected) };
}

try {
  switch (process.argv[2]) {
    case 'gradient': {
      const plain = compare(plainEncoder(), projectionHead({ inputDim: 8, outputDim: 4, seed: 3 }), false);
      const bn = compare(
        mlpEncoder({ inputDim: 9, hidden: [8], seed: 7 }),
        projectionHead({ inputDim: 8, outputDim: 4, seed: 3 }),
        true,
      );
      say({ plain, bn });
      break;
    }
    case 'fail': {
      const spec = tinySpec(4);
      await trainRank(
        { spec, runDir: process.argv[4]!, backend: 'cpu', dataset: quadrantDataset() },
        {
          afterStep: (r) => {
            if (rank === 1 && r.iteration === 1) throw new Error('injected failure after step 2');
          },
        },
      );
      say({ finished: true });
      break;
    }
    default:
      throw new Error(`unknown case ${process.argv[2]}`);
  }
} catch (error) {
  abortRank(mpi, error);
}
mpi.finalize();
