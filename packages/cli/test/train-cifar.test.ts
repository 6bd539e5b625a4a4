/**
 * The `cifar-paper` preset end to end on CIFAR-10 binaries that the test writes (no CIFAR here):
 * the preset's ResNet-18, batch and schedule overridden down to two steps; and Ctrl-C (SIGINT) during
 * `supcon train` stops after a step with a checkpoint and exit code 130 (it does not hang).
 * The files have the official record counts (the reader insists on them): 6 × 10,000 records,
 * about 184 MB in a temporary folder, mostly zeros.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint } from '@supcon/node';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
let dir = '';
let data = '';

/** One CIFAR-10 batch file: label c lights up a 16×16 quadrant of channel c mod 3. */
function cifarBatch(records: number, offset: number): Buffer {
  const bytes = Buffer.alloc(records * 3073);
  for (let i = 0; i < records; i++) {
    const label = (i + offset) % 10;
    const base = i * 3073;
    bytes[base] = label;
    const plane = base + 1 + (label % 3) * 1024;
    const q = label % 4;
    for (let y = 0; y < 16; y++)
      for (let x = 0; x < 16; x++) bytes[plane + (y + 16 * (q >> 1)) * 32 + x + 16 * (q & 1)] = 200;
    bytes[base + 1 + ((i * 37) % 3072)] = i % 251; // a little per-image difference
  }
  return bytes;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'supcon-cifar-'));
  data = join(dir, 'cifar-10-batches-bin');
  mkdirSync(data);
  for (let b = 1; b <= 5; b++) writeFileSync(join(data, `data_batch_${b}.bin`), cifarBatch(10000, b));
  writeFileSync(join(data, 'test_batch.bin'), cifarBatch(10000, 0));
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('supcon train --preset cifar-paper runs two steps on CIFAR-10 binaries and writes its run folder', () => {
  const out = join(dir, 'paper');
  const r = cli(
    'train',
    '--preset',
    'cifar-paper',
    '--dataset',
    `cifar10:${dir}`,
    '--epochs',
    '1',
    '--batch-size',
    '8',
    '--limit',
    '16',
    '--validation',
    '16',
    '--warmup-epochs',
    '0',
    '--knn-k',
    '5',
    '--out',
    out,
    '--quiet',
    '--json',
  );
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as {
    iterations: number;
    method: string;
    prefetch: { enabled: boolean };
  };
  assert.equal(summary.iterations, 2);
  assert.equal(summary.method, 'supcon');
  assert.equal(summary.prefetch.enabled, true);
  const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  // The preset's recipe is kept where not overridden.
  assert.deepEqual(config.model.encoder, { kind: 'resnet', depth: 18, stem: 'cifar', widthMultiplier: 1 });
  assert.equal(config.train.lr, 0.5);
  assert.equal(config.train.temperature, 0.1);
  assert.equal(config.data.augment, 'supcon');
  const records = readFileSync(join(out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; loss: number; knnAccuracy?: number });
  assert.equal(records.filter((x) => x.type === 'step').length, 2);
  assert.ok(records.every((x) => Number.isFinite(x.loss)));
  assert.ok(records.some((x) => x.type === 'epoch' && x.knnAccuracy !== undefined));
  assert.ok(existsSync(join(out, 'checkpoint.bin')));
});

test('SIGINT stops supcon train after a step with a checkpoint and exit code 130; the worker does not hold the process', async () => {
  const out = join(dir, 'interrupted');
  const args = [
    '--dataset',
    `cifar10:${dir}`,
    '--encoder',
    'mlp',
    '--epochs',
    '1000',
    '--batch-size',
    '16',
    '--limit',
    '64',
    '--validation',
    '16',
    '--checkpoint-every',
    '100000',
    '--knn-k',
    '0',
    '--out',
    out,
    '--quiet',
  ];
  const child = spawn(process.execPath, [bin, 'train', ...args, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  const metrics = join(out, 'metrics.jsonl');
  const deadline = Date.now() + 60_000;
  while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').split('\n').length > 3)) {
    assert.ok(Date.now() < deadline, `no steps logged within 60 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 130, stderr);
  const summary = JSON.parse(stdout) as { iterations: number; interrupted: boolean };
  assert.equal(summary.interrupted, true);
  assert.ok(summary.iterations >= 3 && summary.iterations < 4000, `stopped at ${summary.iterations}`);
  assert.match(stderr, new RegExp(`Interrupted after step ${summary.iterations}; .*--resume`));
  // The checkpoint written on the way out holds exactly the steps taken.
  assert.equal(loadCheckpoint(join(out, 'checkpoint.bin')).state.iteration, summary.iterations);
});
