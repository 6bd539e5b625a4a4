/**
 * `trainRun` with the worker-thread prefetcher (the default when views are augmented) equals a run
 * that augments on the training thread, bit for bit (same seed, one-thread cpu backend), and
 * reports how its views were made; a run interrupted by SIGINT stops cleanly at a step boundary.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCheckpoint, runFiles, trainRun } from '@supcon/node';
import { quadrantDataset, tinySpec } from './train-fixture.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'supcon-prefetch-'));

function stepLosses(dir: string): number[] {
  return readFileSync(runFiles(dir).metrics, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { type: string; loss: number })
    .filter((r) => r.type === 'step')
    .map((r) => r.loss);
}

function weights(dir: string): Record<string, number[]> {
  const { state } = loadCheckpoint(runFiles(dir).checkpoint);
  return Object.fromEntries(Object.entries(state.variables).map(([k, v]) => [k, Array.from(v.values)]));
}

/** The process's OS thread count (Linux), or undefined elsewhere. */
function threads(): number | undefined {
  try {
    return Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
  } catch {
    return undefined;
  }
}

test('a prefetching run equals a run that augments inline, bit for bit', async () => {
  const ahead = tmp();
  const inline = tmp();
  // A few milliseconds per step so the worker gets ahead (the tiny model alone is faster than it).
  const slow = () => {
    const until = performance.now() + 4;
    while (performance.now() < until) {}
  };
  const a = await trainRun(tinySpec(3), ahead, { dataset: quadrantDataset() }, { onStep: slow });
  const b = await trainRun(tinySpec(3), inline, { dataset: quadrantDataset(), prefetch: false });
  assert.equal(a.prefetch.enabled, true);
  assert.equal(a.prefetch.depth, 3);
  assert.equal(a.prefetch.prefetched + a.prefetch.inline, 18); // 6 steps × 3 epochs
  assert.ok(a.prefetch.prefetched >= 9, JSON.stringify(a.prefetch));
  assert.deepEqual(b.prefetch, { enabled: false, depth: 0, prefetched: 0, inline: 0, waitMs: 0 });
  assert.deepEqual(stepLosses(ahead), stepLosses(inline));
  assert.deepEqual(weights(ahead), weights(inline));
  rmSync(ahead, { recursive: true });
  rmSync(inline, { recursive: true });
});

test('prefetching is off by default without augmentation (on with random erasing), and an error in a step closes the worker', async () => {
  const spec = tinySpec(1);
  spec.data.augment = 'none';
  const dir = tmp();
  const r = await trainRun(spec, dir, { dataset: quadrantDataset() });
  assert.equal(r.prefetch.enabled, false);
  rmSync(dir, { recursive: true });
  // Random erasing augments the views of `none` too, so the worker makes them.
  spec.data.randomErasing = 0.5;
  const erased = tmp();
  const e = await trainRun(spec, erased, { dataset: quadrantDataset() });
  assert.equal(e.prefetch.enabled, true);
  assert.equal(e.prefetch.depth, 3);
  rmSync(erased, { recursive: true });
  // The hook throws mid-run: trainRun rejects and the worker thread is gone (Linux counts threads).
  const failing = tmp();
  const before = threads();
  await assert.rejects(
    trainRun(
      tinySpec(1),
      failing,
      { dataset: quadrantDataset(), prefetchDepth: 2 },
      {
        onStep: (s) => {
          if (s.iteration === 2) throw new Error('hook failed');
        },
      },
    ),
    /hook failed/,
  );
  if (before !== undefined) {
    // A terminated worker's thread is joined a moment after terminate() resolves.
    for (let i = 0; i < 50 && threads()! > before; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(threads(), before);
  }
  rmSync(failing, { recursive: true });
});

test('SIGINT with handleSignals stops after the current step with a checkpoint', async () => {
  const dir = tmp();
  const r = await trainRun(
    tinySpec(4),
    dir,
    { dataset: quadrantDataset(), handleSignals: true },
    {
      onStep: (s) => {
        if (s.iteration === 4) process.kill(process.pid, 'SIGINT');
      },
    },
  );
  assert.equal(r.interrupted, true);
  assert.ok(r.trainer.position.iteration >= 5 && r.trainer.position.iteration < 24);
  assert.equal(loadCheckpoint(runFiles(dir).checkpoint).state.iteration, r.trainer.position.iteration);
  assert.equal(process.listenerCount('SIGINT'), 0, 'the handler is removed');
  rmSync(dir, { recursive: true });
});
