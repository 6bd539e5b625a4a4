/**
 * The training commands end to end on a small slice of Fashion-MNIST (MLP encoder, one epoch):
 * train → linear → eval → embed → train --resume, each with --json; and bad flags and configs give
 * one clear sentence on stderr with a non-zero exit code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const hasFashion = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');

function assertCleanError(r: ReturnType<typeof cli>, pattern: RegExp): void {
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --verbose');
}

test('bad flags and configs give one clear sentence and a non-zero exit code', () => {
  assertCleanError(cli('train', '--epochs', '0'), /`--epochs`.*>= 1.*Received: 0/);
  assertCleanError(cli('train', '--method', 'byol'), /`--method`.*supcon, simclr, ce.*byol/);
  assertCleanError(cli('train', '--lerning-rate', '0.1'), /Unknown flag `--lerning-rate`/);
  assertCleanError(cli('train', '--resume'), /`--resume` needs `--out DIR`/);
  assertCleanError(
    cli('train', '--config', '/nonexistent.json'),
    /Config file `\/nonexistent.json` does not exist/,
  );
  const dir = mkdtempSync(join(tmpdir(), 'supcon-cli-'));
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ trian: { epochs: 2 } }));
  assertCleanError(cli('train', '--config', bad), /`trian`. Expected no such key/);
  writeFileSync(bad, JSON.stringify({ train: { temperature: -1 } }));
  assertCleanError(cli('train', '--config', bad, '--out', join(dir, 'r')), /argument `temperature`.*-1/);
  assertCleanError(cli('train', '--warmup-epochs', '5', '--epochs', '2'), /argument `warmupEpochs`/);
  assertCleanError(
    cli('train', '--no-prefetch', '--prefetch-depth', '2'),
    /`--prefetch-depth` and `--no-prefetch` exclude each other/,
  );
  assertCleanError(cli('train', '--prefetch-depth', '0'), /`--prefetch-depth`.*>= 1.*Received: 0/);
  assertCleanError(cli('linear'), /`--run DIR` is required/);
  assertCleanError(cli('linear', '--run', join(dir, 'missing')), /argument `run`/);
  rmSync(dir, { recursive: true });
  const help = cli('--help');
  for (const c of ['train', 'linear', 'eval', 'embed', 'demo'])
    assert.match(help.stdout, new RegExp(`\\n  ${c} `));
});

test('train → linear → eval → embed → resume on a Fashion-MNIST slice', {
  skip: !hasFashion && 'no Fashion-MNIST',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-cli-'));
  const run = join(dir, 'run');
  const common = [
    '--encoder',
    'mlp',
    '--limit',
    '1024',
    '--validation',
    '500',
    '--batch-size',
    '128',
    '--quiet',
    '--json',
  ];
  const trained = cli(
    'train',
    '--out',
    run,
    '--epochs',
    '2',
    '--lr',
    '0.05',
    '--checkpoint-every',
    '3',
    ...common,
  );
  assert.equal(trained.status, 0, trained.stderr);
  const t = JSON.parse(trained.stdout) as {
    iterations: number;
    method: string;
    prefetch: { enabled: boolean; prefetched: number; inline: number; waitMs: number };
  };
  assert.equal(t.iterations, 16);
  assert.equal(t.prefetch.enabled, true, 'augmented views are prepared ahead by default');
  assert.equal(t.prefetch.prefetched + t.prefetch.inline, 16);
  assert.ok(t.prefetch.prefetched > 0, JSON.stringify(t.prefetch));
  assert.equal(t.method, 'supcon');
  const records = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(records.filter((r) => r.type === 'step').length, 16);
  assert.equal(records.filter((r) => r.type === 'epoch').length, 2);

  const linear = cli('linear', '--run', run, '--epochs', '3', '--json');
  assert.equal(linear.status, 0, linear.stderr);
  const l = JSON.parse(linear.stdout) as { testAccuracy: number; testTop5: number };
  // Ten classes: chance is 0.1; even a briefly trained encoder's features are far above it.
  assert.ok(l.testAccuracy > 0.5 && l.testAccuracy <= 1, `linear ${l.testAccuracy}`);
  assert.ok(l.testTop5 >= l.testAccuracy);

  const knn = cli('eval', '--run', run, '--k', '20', '--json');
  assert.equal(knn.status, 0, knn.stderr);
  const k = (JSON.parse(knn.stdout) as { knn: { k: number; test: { top1: number } } }).knn;
  assert.equal(k.k, 20);
  assert.ok(k.test.top1 > 0.4);

  const file = join(dir, 'emb.json');
  const embed = cli('embed', '--run', run, '--out', file, '--split', 'validation', '--json');
  assert.equal(embed.status, 0, embed.stderr);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as {
    count: number;
    dim: number;
    labels: number[];
    embeddings: number[][];
  };
  assert.equal(doc.count, 500);
  assert.equal(doc.labels.length, 500);
  assert.equal(doc.embeddings[0]!.length, doc.dim);

  // Resuming a finished run is a no-op; refusing to overwrite it without --resume is an error.
  assertCleanError(cli('train', '--out', run, ...common), /argument `out`/);
  const resumed = cli('train', '--out', run, '--resume', '--quiet', '--json');
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.equal((JSON.parse(resumed.stdout) as { resumedFrom: number }).resumedFrom, 16);
  const summary = JSON.parse(readFileSync(join(run, 'summary.json'), 'utf8')) as Record<string, number>;
  assert.equal(summary['testAccuracy'], l.testAccuracy);
  rmSync(dir, { recursive: true });
});
