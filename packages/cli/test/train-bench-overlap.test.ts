/** `supcon bench overlap` end to end on random images (tiny model, cpu backend): its JSON and its errors. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

test('bench overlap times every mode, interleaved, and reports slowdownPct', () => {
  const r = cli(
    'bench',
    'overlap',
    '--dataset',
    'mnist',
    '--synthetic',
    '--encoder',
    'mlp',
    '--batch-size',
    '16',
    '--modes',
    'ready,ahead,ahead-nice,inline',
    '--rounds',
    '1',
    '--steps',
    '2',
    '--backend',
    'cpu',
    '--json',
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    slowdownPct: number;
    slowdownPctByMode: Record<string, number>;
    modes: Record<string, { medianMs: number; stepsMs: number[]; prefetched?: number; inline?: number }>;
  };
  for (const m of ['ready', 'ahead', 'ahead-nice', 'inline']) {
    assert.equal(out.modes[m]!.stepsMs.length, 2, m);
    assert.ok(out.modes[m]!.medianMs > 0, m);
  }
  assert.ok(Number.isFinite(out.slowdownPct));
  assert.equal(out.slowdownPct, out.slowdownPctByMode['ahead-nice']);
  // Each ahead block: one resynchronising request inline, then the timed steps from the worker.
  assert.equal(out.modes['ahead']!.inline, 1);
  assert.equal(out.modes['ahead']!.prefetched, 2);
  assert.equal(out.modes['ready']!.prefetched, undefined);
});

test('bench overlap rejects unknown modes and --threads without the native engine', () => {
  const bad = cli('bench', 'overlap', '--modes', 'ready,fast', '--backend', 'cpu');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /`--modes`.*ready, ahead, ahead-nice, inline.*ready,fast/);
  const threads = cli('bench', 'overlap', '--threads', '1', '--backend', 'cpu', '--synthetic');
  assert.notEqual(threads.status, 0);
  assert.match(threads.stderr, /`--threads` needs the native backend/);
});
