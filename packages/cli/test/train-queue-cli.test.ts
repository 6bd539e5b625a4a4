/**
 * `supcon train --queue-size N --chunk N`: the options reach the run's config, a finished run leaves
 * its encoder as a TensorFlow.js layers model, and bad values are one clear sentence.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const hasFashion = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');

test('train with a memory queue and gradient caching', { skip: !hasFashion && 'no Fashion-MNIST' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-queue-'));
  const run = join(dir, 'run');
  const r = cli(
    'train',
    '--out',
    run,
    '--encoder',
    'mlp',
    '--limit',
    '768',
    '--validation',
    '256',
    '--batch-size',
    '128',
    '--epochs',
    '1',
    '--queue-size',
    '512',
    '--chunk',
    '96',
    '--quiet',
    '--json',
  );
  assert.equal(r.status, 0, r.stderr);
  const config = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')) as {
    train: { queueSize: number; chunkRows: number };
  };
  assert.equal(config.train.queueSize, 512);
  assert.equal(config.train.chunkRows, 96);
  const losses = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; loss: number })
    .filter((x) => x.type === 'step')
    .map((x) => x.loss);
  assert.equal(losses.length, 6);
  assert.ok(losses.every(Number.isFinite));
  const model = JSON.parse(readFileSync(join(run, 'encoder', 'model.json'), 'utf8')) as { format?: string };
  assert.equal(model.format, 'layers-model');
  assert.ok(existsSync(join(run, 'encoder', 'weights.bin')));
  rmSync(dir, { recursive: true });
});

test('queue and chunk flags are validated', () => {
  const bad = (args: string[], pattern: RegExp) => {
    const r = cli('train', ...args);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  };
  bad(['--queue-size', '-4'], /`--queue-size`.*>= 0.*-4/);
  bad(['--method', 'ce', '--queue-size', '8'], /`queueSize`.*ce/);
  bad(['--chunk', 'x'], /`--chunk`/);
  bad(['--stem', 'huge'], /`--stem`.*cifar, imagenet.*huge/);
});
