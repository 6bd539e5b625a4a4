/**
 * SyncBatchNorm over MPI (`mpirun -np 2`, loopback TCP, cpu backend, the tiny MLP with two BatchNorm
 * layers): two ranks with `train.syncBatchNorm` on uneven shards (7 and 8 of a batch of 15) end a few
 * steps with the weights and running statistics of one process training on the whole batch (1e-5),
 * the same bits on both ranks; per-shard BatchNorm in one process is farther than that, so the
 * tolerance separates the two.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadCheckpoint, type RunSpec, selectBackend, trainDistributed } from '@supcon/node';
import { farthest, oneProcess } from './distributed-fixture.js';
import { quadrantDataset, tinySpec } from './train-fixture.js';

await selectBackend('cpu');
const skip = spawnSync('mpirun', ['--version']).status === 0 ? false : 'mpirun is not installed';
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const STEPS = 3;

function spec(): RunSpec {
  const s = tinySpec(1);
  s.data.augment = 'light';
  s.train = { ...s.train, batchSize: 15, warmupEpochs: 0, syncBatchNorm: true };
  return s;
}

describe('SyncBatchNorm over MPI', { skip, timeout: 120_000 }, () => {
  it('2 ranks on uneven shards end with the weights of one process on the whole batch', async () => {
    const s = spec();
    const dir = mkdtempSync(join(tmpdir(), 'supcon-syncbn-'));
    dirs.push(dir);
    const runDir = join(dir, 'run');
    const result = await trainDistributed(s, runDir, {
      processes: 2,
      threadsPerProcess: 1,
      backend: 'cpu',
      dataset: quadrantDataset(),
      stopAfterIterations: STEPS,
      timeoutSeconds: 60,
    });
    assert.equal(result.iterations, STEPS);
    assert.equal(result.syncBatchNorm, true);
    assert.equal(result.fingerprints.length, 2);
    assert.equal(result.fingerprints[0], result.fingerprints[1], 'both ranks hold the same bits');
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as RunSpec;
    assert.equal(config.train.syncBatchNorm, true, 'config.json records it');
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(summary['syncBatchNorm'], true, 'summary.json records it');

    const { state } = loadCheckpoint(join(runDir, 'checkpoint.bin'));
    assert.equal(state.iteration, STEPS);
    const whole = await oneProcess(s, STEPS);
    const synced = farthest(state, whole);
    assert.ok(
      synced.error < 1e-5,
      `${synced.name}: relative difference ${synced.error} after ${STEPS} steps`,
    );
    // What the ranks would compute without SyncBatchNorm (shown by distributed.test.ts): farther away,
    // in the trained weights alone (its running statistics are another matter).
    const ghost = farthest(
      await oneProcess(s, STEPS, { perShard: 2 }),
      whole,
      (name) => !/running_/.test(name),
    );
    assert.ok(ghost.error > 1e-3, `per-shard BatchNorm: ${ghost.name} differs by ${ghost.error} only`);
  });
});
