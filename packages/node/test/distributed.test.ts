/**
 * trainDistributed over real child processes (cpu backend, a small MLP encoder with BatchNorm):
 * the all-reduced gradient equals a single process that normalises each shard on its own, the ranks
 * stay bit-identical and close to the single-process Trainer, the run folder is a normal run, and a
 * crashed or failing worker ends the run with a clear error and no process left behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  augmentSteps,
  buildNetworks,
  type Dataset,
  loadCheckpoint,
  type PreparedData,
  prepareData,
  type RunSpec,
  trainDistributed,
} from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';
import { Augmenter, batchIndices, epochOrder, methodLoss, type Network, shardRange, Trainer } from 'supcon';
import { quadrantDataset, tinySpec } from './train-fixture.js';

const dirs: string[] = [];
const tempRun = () => {
  const d = mkdtempSync(join(tmpdir(), 'supcon-dist-'));
  dirs.push(d);
  return join(d, 'run');
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function spec(epochs = 1): RunSpec {
  const s = tinySpec(epochs);
  s.data.augment = 'light';
  s.train.warmupEpochs = 0;
  return s;
}

/** Splits the forward into the shards of a P-worker step: the single-process form of per-shard BatchNorm. */
function perShard(encoder: Network, batch: number, views: number, size: number): Network {
  return {
    ...encoder,
    apply: (x, training) => {
      const parts = Array.from({ length: size }, (_, r) => {
        const s = shardRange(batch, r, size);
        return encoder.apply(tf.slice(x, s.start * views, (s.end - s.start) * views), training);
      });
      return tf.concat(parts, 0);
    },
  };
}

interface Reference {
  data: PreparedData;
  encoder: Network;
  head: Network;
  makeViews: (images: Uint8Array, count: number, o: Parameters<Augmenter['apply']>[2]) => Float32Array;
  viewShape: [number, number, number];
}

async function reference(s: RunSpec, dataset: Dataset): Promise<Reference> {
  const data = await prepareData(s, dataset);
  const { encoder, head } = buildNetworks(s, data);
  const t = data.train;
  const steps = augmentSteps(s.data.augment, [t.height, t.width], data.dataset.mean, data.dataset.std);
  const augmenter = new Augmenter(steps.train, { height: t.height, width: t.width, channels: t.channels });
  const o = augmenter.output;
  return {
    data,
    encoder,
    head,
    makeViews: (images, count, opts) => augmenter.apply(images, count, opts),
    viewShape: [o.height, o.width, o.channels],
  };
}

function maxRelative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / den;
}

describe('trainDistributed', { timeout: 120_000 }, () => {
  it('all-reduces the gradient of the whole batch (per-shard BatchNorm), 2 processes', async () => {
    const s = spec();
    const dataset = quadrantDataset();
    let first: Float32Array | undefined;
    const result = await trainDistributed(
      s,
      tempRun(),
      { processes: 2, backend: 'cpu', dataset },
      {
        onAllReduce: (iteration, sum) => {
          if (iteration === 0) first = sum.slice();
        },
        stop: () => true,
      },
    );
    assert.equal(result.iterations, 1);
    assert.equal(result.interrupted, true);
    // The same step in this process: same seed, same weights, same batch and views.
    const ref = await reference(s, dataset);
    const B = s.train.batchSize;
    const V = s.train.views;
    const train = ref.data.train;
    const indices = batchIndices(epochOrder(train.count, s.train.seed, 0), 0, B);
    const size = train.height * train.width * train.channels;
    const images = new Uint8Array(B * size);
    indices.forEach((i, k) => {
      images.set(train.images.subarray(i * size, (i + 1) * size), k * size);
    });
    const pixels = ref.makeViews(images, B, { views: V, seed: s.train.seed, epoch: 0, indices });
    const labels = Int32Array.from(indices, (i) => train.labels[i]!);
    const params = [...ref.encoder.parameters(), ...ref.head.parameters()].map((p) => p.variable);
    const encoder = perShard(ref.encoder, B, V, 2);
    const x = tf.tensor4d(pixels, [B * V, ...ref.viewShape]);
    const { grads } = tf.variableGrads(() => {
      const z = ref.head.apply(encoder.apply(x, true), true) as tf.Tensor2D; // [B·V, D]
      return methodLoss('supcon', z, labels, V, s.train);
    }, params);
    const expected = new Float32Array(params.reduce((n, p) => n + p.size, 0));
    let at = 0;
    for (const p of params) {
      expected.set(grads[p.name]!.dataSync() as Float32Array, at);
      at += p.size;
    }
    assert.ok(first, 'the all-reduce hook saw step 0');
    const err = maxRelative(first.subarray(0, expected.length), expected);
    assert.ok(err < 1e-5, `relative error ${err}`);
  });

  it('keeps the ranks bit-identical and close to the single-process Trainer; writes a normal run that resumes exactly', async () => {
    const s = spec(1);
    const dataset = quadrantDataset();
    const runDir = tempRun();
    const result = await trainDistributed(s, runDir, { processes: 2, backend: 'cpu', dataset });
    assert.equal(result.fingerprints.length, 2);
    assert.equal(result.fingerprints[0], result.fingerprints[1], 'ranks hold the same bits');
    assert.ok(result.iterations >= 5, `${result.iterations} steps`);
    assert.equal(result.interrupted, false);
    const records = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(records.filter((r) => r.type === 'step').length, result.iterations);
    assert.equal(records.filter((r) => r.type === 'epoch').length, 1);
    assert.ok(existsSync(join(runDir, 'config.json')));
    const { state } = loadCheckpoint(join(runDir, 'checkpoint.bin'));
    assert.equal(state.iteration, result.iterations);

    const ref = await reference(s, dataset);
    const trainer = new Trainer({
      config: s.train,
      encoder: perShard(ref.encoder, s.train.batchSize, s.train.views, 2),
      head: ref.head,
      data: ref.data.train,
      makeViews: ref.makeViews,
      viewShape: ref.viewShape,
    });
    trainer.run();
    const single = trainer.state();
    const trainable = new Set([
      ...ref.encoder.parameters().map((p) => `encoder/${p.name}`),
      ...ref.head.parameters().map((p) => `head/${p.name}`),
    ]);
    for (const name of trainable) {
      const err = maxRelative(state.variables[name]!.values, single.variables[name]!.values);
      assert.ok(err < 1e-4, `${name}: relative difference ${err} after ${result.iterations} steps`);
    }
    trainer.dispose();

    // Interrupted after 2 steps, then resumed: the same bits as the uninterrupted run.
    const resumedDir = tempRun();
    let reduced = 0;
    const part = await trainDistributed(
      s,
      resumedDir,
      { processes: 2, backend: 'cpu', dataset },
      { stop: () => ++reduced >= 2 },
    );
    assert.equal(part.iterations, 2);
    const rest = await trainDistributed(s, resumedDir, {
      processes: 2,
      backend: 'cpu',
      dataset,
      resume: true,
    });
    assert.equal(rest.resumedFrom, 2);
    assert.equal(rest.iterations, result.iterations);
    assert.deepEqual(rest.fingerprints, result.fingerprints);
    const steps = readFileSync(join(resumedDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      steps.filter((r) => r.type === 'step').map((r) => r.iteration),
      Array.from({ length: result.iterations }, (_, i) => i),
    );
  });

  it('ends with a clear error when a worker is killed, and leaves no process behind', async () => {
    let pids: number[] = [];
    const started = performance.now();
    await assert.rejects(
      trainDistributed(
        spec(4),
        tempRun(),
        { processes: 2, backend: 'cpu', dataset: quadrantDataset() },
        {
          onStart: (w) => {
            pids = w.map((x) => x.pid);
          },
          onStep: (r) => {
            if (r.iteration === 1) process.kill(pids[1]!, 'SIGKILL');
          },
        },
      ),
      /Worker 1 \(pid \d+\) was killed by SIGKILL/,
    );
    assert.ok(performance.now() - started < 60_000);
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/, `process ${pid} is gone`);
  });

  it('workers exit when the coordinator is killed', async () => {
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('./distributed-child.js', import.meta.url)), tempRun()],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    const pids = await new Promise<number[]>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /pids (\d+) (\d+)\n/.exec(out);
        if (m && /step 1\n/.test(out)) resolve([Number(m[1]), Number(m[2])]);
      });
      child.once('exit', () => reject(new Error(`coordinator exited early: ${out}`)));
    });
    child.kill('SIGKILL');
    // Orphaned workers are reparented to init; a worker counts as gone when it no longer exists or is a
    // zombie waiting for init (it has stopped running either way).
    const running = (pid: number) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    const deadline = performance.now() + 20_000;
    while (pids.some(running) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(pids.filter(running), [], 'no worker outlives its coordinator');
  });

  it("reports a worker's own error", async () => {
    const s = spec();
    s.data.dataset = 'folder:/nonexistent/supcon-dist';
    await assert.rejects(
      trainDistributed(s, tempRun(), { processes: 2, backend: 'cpu' }),
      (e: Error) =>
        e.name === 'DistributedTrainingError' &&
        /Worker \d .*exited with code 1: .*nonexistent/.test(e.message),
    );
  });

  it('validates processes', async () => {
    await assert.rejects(trainDistributed(spec(), tempRun(), { processes: 0 }), /processes/);
    await assert.rejects(trainDistributed(spec(), tempRun(), { processes: 64 }), /processes.*batch size/);
  });
});
