/**
 * `supcon robustness` end to end on a Fashion-MNIST slice: a SupCon run and a cross-entropy run
 * (MLP encoder, two epochs), corruption accuracies per severity, the relative mCE against the
 * baseline recomputed from the written files, determinism, and the errors.
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

interface Result {
  cleanAccuracy: number;
  accuracy: Record<string, number[]>;
  severities: number[];
  meanCorruptionError: number;
  testImages: number;
  relative?: { perCorruption: Record<string, number>; mCE: number };
}

test('robustness of a SupCon run against a cross-entropy baseline', {
  skip: !hasFashion && 'no Fashion-MNIST',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-robust-'));
  const train = (name: string, method: string) => {
    const r = cli(
      'train',
      '--out',
      join(dir, name),
      '--method',
      method,
      '--encoder',
      'mlp',
      '--limit',
      '1024',
      '--validation',
      '300',
      '--batch-size',
      '128',
      '--epochs',
      '2',
      '--lr',
      '0.05',
      '--quiet',
      '--json',
    );
    assert.equal(r.status, 0, r.stderr);
  };
  train('supcon', 'supcon');
  train('ce', 'ce');
  const robust = (name: string, ...extra: string[]) => {
    const r = cli(
      'robustness',
      '--run',
      join(dir, name),
      '--limit',
      '400',
      '--epochs',
      '3',
      '--corruptions',
      'jpeg,contrast,impulse-noise',
      '--severities',
      '1,5',
      '--json',
      ...extra,
    );
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Result;
  };
  const ce = robust('ce');
  assert.deepEqual(Object.keys(ce.accuracy), ['jpeg', 'contrast', 'impulse-noise']);
  assert.deepEqual(ce.severities, [1, 5]);
  assert.equal(ce.testImages, 400);
  for (const acc of Object.values(ce.accuracy)) for (const a of acc) assert.ok(a >= 0 && a <= 1);
  // Contrast at severity 5 keeps 15 % of the deviation: it must hurt more than severity 1.
  assert.ok(ce.accuracy['contrast']![1]! < ce.accuracy['contrast']![0]!, JSON.stringify(ce.accuracy));
  const mean =
    Object.values(ce.accuracy)
      .flat()
      .reduce((s, a) => s + (1 - a), 0) / 6;
  assert.ok(Math.abs(ce.meanCorruptionError - mean) < 1e-12);

  const sc = robust('supcon', '--baseline', join(dir, 'ce'));
  assert.ok(sc.relative !== undefined);
  const ratios = Object.keys(sc.accuracy).map((c) => {
    const err = (x: number[]) => x.reduce((s, a) => s + (1 - a), 0);
    return err(sc.accuracy[c]!) / err(ce.accuracy[c]!);
  });
  assert.ok(Math.abs(sc.relative.mCE - ratios.reduce((a, b) => a + b, 0) / ratios.length) < 1e-12);
  const written = JSON.parse(readFileSync(join(dir, 'supcon', 'robustness.json'), 'utf8')) as Result;
  assert.deepEqual(written.accuracy, sc.accuracy);
  const summary = JSON.parse(readFileSync(join(dir, 'supcon', 'summary.json'), 'utf8')) as Record<
    string,
    number
  >;
  assert.equal(summary['mCE'], sc.relative.mCE);
  // The same run, flags and seed give the same accuracies.
  assert.deepEqual(robust('supcon').accuracy, sc.accuracy);

  const bad = (args: string[], pattern: RegExp) => {
    const r = cli('robustness', ...args);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  };
  bad([], /`--run DIR` is required/);
  bad(['--run', join(dir, 'ce'), '--corruptions', 'fog'], /`corruptions`.*fog/);
  bad(['--run', join(dir, 'ce'), '--severities', '0,6'], /`--severities`.*1 to 5.*0,6/);
  bad(['--run', join(dir, 'ce'), '--baseline', join(dir, 'nothing')], /`--baseline`.*robustness\.json/);
  rmSync(dir, { recursive: true });
});
