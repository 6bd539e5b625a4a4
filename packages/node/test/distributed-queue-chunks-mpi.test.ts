/**
 * The memory queue and gradient caching over MPI (`mpirun -np 2`, loopback TCP, cpu backend, the tiny
 * MLP with BatchNorm), each against the one-process Trainer after the same steps:
 *   - a queue that wraps around, with SyncBatchNorm (exact BatchNorm): every variable, the queue's rows
 *     and labels in the checkpoint included, within 1e-5, the ranks bit-identical;
 *   - gradient caching with chunks of 8 rows (each rank's 16 rows in 2 chunks, the one process's 32 in
 *     4: the same rows), without SyncBatchNorm: the trained weights within 1e-5 (the running
 *     statistics are averaged over ranks, as without chunks).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadCheckpoint, type RunSpec, selectBackend, trainDistributed } from '@supcon/node';
import type { TrainerState } from 'supcon';
import { farthest, oneProcess } from './distributed-fixture.js';
import { quadrantDataset, tinySpec } from './train-fixture.js';

await selectBackend('cpu');
const skip = spawnSync('mpirun', ['--version']).status === 0 ? false : 'mpirun is not installed';
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const STEPS = 4;

function spec(train: Partial<RunSpec['train']>): RunSpec {
  const s = tinySpec(1);
  s.data.augment = 'light';
  s.train = { ...s.train, warmupEpochs: 0, ...train };
  return s;
}

/** `STEPS` steps on 2 ranks: the checkpoint's state and the fingerprints. */
async function twoRanks(s: RunSpec): Promise<{ state: TrainerState; fingerprints: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-dp-queue-'));
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
  return { state: loadCheckpoint(join(runDir, 'checkpoint.bin')).state, fingerprints: result.fingerprints };
}

describe('queue and gradient caching over MPI', { skip, timeout: 120_000 }, () => {
  it('a queue on 2 ranks (with SyncBatchNorm) ends where one process does, queue included', async () => {
    // Batch 16 × 2 views: 32 rows a step into 48 slots, so 4 steps wrap around.
    const s = spec({ queueSize: 48, syncBatchNorm: true });
    const { state, fingerprints } = await twoRanks(s);
    assert.equal(fingerprints[0], fingerprints[1], 'both ranks hold the same bits');
    assert.equal(state.variables['queue/labels']?.values.length, 48, 'the checkpoint holds the full queue');
    const worst = farthest(state, await oneProcess(s, STEPS));
    assert.ok(worst.error < 1e-5, `${worst.name}: relative difference ${worst.error} after ${STEPS} steps`);
  });

  it('gradient caching on 2 ranks ends with the weights of one process with the same chunks', async () => {
    const s = spec({ chunkRows: 8 });
    const { state, fingerprints } = await twoRanks(s);
    assert.equal(fingerprints[0], fingerprints[1], 'both ranks hold the same bits');
    const trained = (name: string) => !/running_/.test(name);
    const worst = farthest(state, await oneProcess(s, STEPS), trained);
    assert.ok(worst.error < 1e-5, `${worst.name}: relative difference ${worst.error} after ${STEPS} steps`);
  });
});
