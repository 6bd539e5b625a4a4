/**
 * Data-parallel training over MPI on this machine (`mpirun -np 2`, loopback TCP, cpu backend, tiny
 * models): the all-reduced gradient of a step equals one process's (no BatchNorm: ≤ 1e-5; BatchNorm:
 * the per-shard form), with uneven shards and the same bits on both ranks; `trainDistributed` keeps
 * the ranks bit-identical and close to the single-process Trainer, writes a normal run, stops every
 * rank after the same step (exactly, or on a signal) and resumes to the same bits; a rank that throws
 * ends the job at once with its sentence; a run that cannot start is one sentence and leaves nothing.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { localMpirun } from '@supcon/mpi';
import {
  augmentSteps,
  buildNetworks,
  type Dataset,
  loadCheckpoint,
  type PreparedData,
  prepareData,
  type RunSpec,
  selectBackend,
  trainDistributed,
} from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';
import { Augmenter, type Network, shardRange, Trainer } from 'supcon';
import { quadrantDataset, tinySpec } from './train-fixture.js';

await selectBackend('cpu');
const skip = spawnSync('mpirun', ['--version']).status === 0 ? false : 'mpirun is not installed';
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'supcon-dist-'));
  dirs.push(d);
  return d;
};
const tempRun = () => join(tempDir(), 'run');
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function spec(epochs = 1): RunSpec {
  const s = tinySpec(epochs);
  s.data.augment = 'light';
  s.train.warmupEpochs = 0;
  return s;
}

/** mpirun -np 2 on distributed-child.js: exit status, stderr, seconds and each rank's findings. */
function child(kase: string, ...args: string[]) {
  const out = tempDir();
  const script = fileURLToPath(new URL('./distributed-child.js', import.meta.url));
  const {
    file,
    args: argv,
    env,
  } = localMpirun({
    processes: 2,
    threads: 1,
    timeoutSeconds: 60,
    command: [process.execPath, script, kase, out, ...args],
  });
  const started = performance.now();
  const r = spawnSync(file, argv, { env, encoding: 'utf8', timeout: 90_000 });
  const ranks = readdirSync(out)
    .sort()
    .map((f) => JSON.parse(readFileSync(join(out, f), 'utf8')) as Record<string, Record<string, unknown>>);
  return { status: r.status, stderr: r.stderr, ranks, seconds: (performance.now() - started) / 1000 };
}

/** Splits the forward into the shards of a P-rank step: the single-process form of per-shard BatchNorm. */
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

async function singleProcess(
  s: RunSpec,
  dataset: Dataset,
): Promise<{ data: PreparedData; trainer: Trainer; trainable: Set<string> }> {
  const data = await prepareData(s, dataset);
  const { encoder, head } = buildNetworks(s, data);
  const t = data.train;
  const steps = augmentSteps(s.data.augment, [t.height, t.width], data.dataset.mean, data.dataset.std);
  const augmenter = new Augmenter(steps.train, { height: t.height, width: t.width, channels: t.channels });
  const o = augmenter.output;
  const trainer = new Trainer({
    config: s.train,
    encoder: perShard(encoder, s.train.batchSize, s.train.views, 2),
    head,
    data: t,
    makeViews: (images, count, opts) => augmenter.apply(images, count, opts),
    viewShape: [o.height, o.width, o.channels],
  });
  const trainable = new Set([
    ...encoder.parameters().map((p) => `encoder/${p.name}`),
    ...head.parameters().map((p) => `head/${p.name}`),
  ]);
  return { data, trainer, trainable };
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

describe('data-parallel training over MPI', { skip, timeout: 120_000 }, () => {
  it('all-reduces the single-process gradient on uneven shards, the same bits on both ranks', () => {
    const r = child('gradient');
    assert.equal(r.status, 0, r.stderr);
    const [a, b] = r.ranks as [
      Record<string, Record<string, unknown>>,
      Record<string, Record<string, unknown>>,
    ];
    assert.deepEqual(a['plain']!['shard'], { start: 0, end: 7 });
    assert.deepEqual(b['plain']!['shard'], { start: 7, end: 15 });
    for (const kind of ['plain', 'bn']) {
      assert.equal(a[kind]!['hash'], b[kind]!['hash'], `${kind}: both ranks hold the same sum`);
      const error = a[kind]!['error'] as number;
      assert.ok(error < 1e-5, `${kind}: relative error ${error}`);
    }
  });

  it('keeps the ranks bit-identical and close to one process; stops after the same step and resumes exactly', async () => {
    const s = spec(1);
    const dataset = quadrantDataset();
    const runDir = tempRun();
    const result = await trainDistributed(s, runDir, { processes: 2, backend: 'cpu', dataset });
    assert.equal(result.transport, 'mpi');
    assert.equal(result.processes, 2);
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
    assert.ok(existsSync(join(runDir, 'encoder', 'model.json')), 'a finished run exports its encoder');
    const { state } = loadCheckpoint(join(runDir, 'checkpoint.bin'));
    assert.equal(state.iteration, result.iterations);

    const { trainer, trainable } = await singleProcess(s, dataset);
    trainer.run();
    const single = trainer.state();
    // The trainable weights (running variances are the mean of shard variances: docs/distributed.md).
    for (const name of trainable) {
      const err = maxRelative(state.variables[name]!.values, single.variables[name]!.values);
      assert.ok(err < 1e-4, `${name}: relative difference ${err} after ${result.iterations} steps`);
    }
    trainer.dispose();

    // Stopped after exactly 2 steps, then resumed: the same bits as the uninterrupted run.
    const exact = tempRun();
    const part = await trainDistributed(s, exact, {
      processes: 2,
      backend: 'cpu',
      dataset,
      stopAfterIterations: 2,
    });
    assert.equal(part.iterations, 2);
    assert.equal(part.interrupted, true);
    const rest = await trainDistributed(s, exact, { processes: 2, backend: 'cpu', dataset, resume: true });
    assert.equal(rest.resumedFrom, 2);
    assert.equal(rest.iterations, result.iterations);
    assert.deepEqual(rest.fingerprints, result.fingerprints);
    const steps = readFileSync(join(exact, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      steps.filter((r) => r.type === 'step').map((r) => r.iteration),
      Array.from({ length: result.iterations }, (_, i) => i),
    );

    // Stopped by a signal (SIGUSR1 to mpirun, forwarded to both ranks): same step everywhere, resumable.
    const signalled = tempRun();
    const stopped = await trainDistributed(
      s,
      signalled,
      { processes: 2, backend: 'cpu', dataset },
      { stop: () => true },
    );
    assert.equal(stopped.interrupted, true);
    assert.ok(stopped.iterations < result.iterations, `${stopped.iterations} steps`);
    assert.equal(stopped.fingerprints[0], stopped.fingerprints[1]);
    assert.equal(loadCheckpoint(join(signalled, 'checkpoint.bin')).state.iteration, stopped.iterations);
    const resumed = await trainDistributed(s, signalled, {
      processes: 2,
      backend: 'cpu',
      dataset,
      resume: true,
    });
    assert.deepEqual(resumed.fingerprints, result.fingerprints);
  });

  it('ends the job within seconds when one rank throws, naming the rank', () => {
    const runDir = tempRun();
    const r = child('fail', runDir);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^rank 1: injected failure after step 2$/m);
    assert.equal(r.ranks.length, 0, 'no rank finished');
    assert.ok(r.seconds < 30, `${r.seconds} s`);
  });

  it('reports a run the ranks cannot start as one sentence, and leaves no run folder', async () => {
    const s = spec();
    s.data.dataset = 'folder:/nonexistent/supcon-dist';
    const runDir = tempRun();
    await assert.rejects(
      trainDistributed(s, runDir, { processes: 2, backend: 'cpu' }),
      (e: Error) =>
        e.name === 'DistributedTrainingError' && /nonexistent/.test(e.message) && !/\n/.test(e.message),
    );
    assert.ok(!existsSync(runDir));
  });

  it('stops the ranks with a checkpoint when the launching process is killed', async () => {
    const runDir = tempRun();
    const script = fileURLToPath(new URL('./distributed-launcher-child.js', import.meta.url));
    const launcher = spawn(process.execPath, [script, runDir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const mpirun = await new Promise<number>((resolve, reject) => {
      launcher.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /mpirun (\d+)\n/.exec(out);
        if (m && /step 1\n/.test(out)) resolve(Number(m[1]));
      });
      launcher.once('exit', () => reject(new Error(`the launcher exited early: ${out}`)));
    });
    launcher.kill('SIGKILL');
    // Orphaned, mpirun is reparented; it counts as gone when it no longer exists or is a zombie.
    const running = (pid: number) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    const deadline = performance.now() + 30_000;
    while (running(mpirun) && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal(running(mpirun), false, 'mpirun and its ranks stopped');
    const { state } = loadCheckpoint(join(runDir, 'checkpoint.bin'));
    assert.ok(state.iteration >= 2, `checkpoint at ${state.iteration}`);
  });

  it('validates processes', async () => {
    await assert.rejects(trainDistributed(spec(), tempRun(), { processes: 0 }), /processes/);
    await assert.rejects(trainDistributed(spec(), tempRun(), { processes: 64 }), /processes.*batch size/);
  });
});
