/**
 * Ctrl-C on `supcon train --processes 2` (the mpirun wrapper turns it into SIGUSR1 for every rank):
 * both ranks stop after the same step with a checkpoint (exit 130), and `--resume` ends with the
 * same weights, bit for bit, as the uninterrupted run. Slice of Fashion-MNIST, cpu backend, tiny MLP.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { bin, cli, mpiSkip, tinyMpiRun } from './helpers.js';

const skip = mpiSkip;

const dir = mkdtempSync(join(tmpdir(), 'supcon-dp-signal-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** One epoch of 32 steps (1024 images, batch 32), a checkpoint every step, no kNN monitor. */
const RUN = [...tinyMpiRun(dir, 1024), '--backend', 'cpu', '--checkpoint-every', '1'];

interface Summary {
  iterations: number;
  resumedFrom: number;
  fingerprints: string[];
  interrupted: boolean;
}

test('Ctrl-C stops both ranks after the same step with a checkpoint; --resume ends bit-identical', {
  skip,
  timeout: 240_000,
}, async () => {
  const out = join(dir, 'interrupted');
  const child = spawn(process.execPath, [bin, 'train', '--processes', '2', ...RUN, '--out', out, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
  });
  const metrics = join(out, 'metrics.jsonl');
  const steps = () => (existsSync(metrics) ? readFileSync(metrics, 'utf8').split('\n').length - 1 : 0);
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  while (steps() < 2 && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /Interrupted after step (\d+); the checkpoint is written/);
  const stopped = JSON.parse(stdout) as Summary;
  assert.equal(stopped.interrupted, true);
  assert.ok(stopped.iterations < 32, `${stopped.iterations} steps`);
  assert.equal(stopped.fingerprints[0], stopped.fingerprints[1], 'both ranks stopped after the same step');

  const resumed = cli('train', '--processes', '2', '--out', out, '--resume', '--backend', 'cpu', '--json');
  assert.equal(resumed.status, 0, resumed.stderr);
  const final = JSON.parse(resumed.stdout) as Summary;
  assert.equal(final.resumedFrom, stopped.iterations);
  assert.equal(final.iterations, 32);
  const whole = cli('train', '--processes', '2', ...RUN, '--out', join(dir, 'whole'), '--json');
  assert.equal(whole.status, 0, whole.stderr);
  assert.deepEqual(final.fingerprints, (JSON.parse(whole.stdout) as Summary).fingerprints);
});
