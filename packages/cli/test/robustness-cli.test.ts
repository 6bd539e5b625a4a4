/**
 * `supcon robustness` end to end on a Fashion-MNIST slice: a SupCon run and a cross-entropy run
 * (MLP encoder, two epochs), corruption accuracies per severity, the probe's calibration error and
 * the means per severity, the relative mCE against the baseline recomputed from the written files,
 * determinism, and the errors (a run on a flat folder, which has no test split, among them).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodePng } from '@supcon/node';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const hasFashion = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');

interface Result {
  cleanAccuracy: number;
  accuracy: Record<string, number[]>;
  severities: number[];
  meanCorruptionError: number;
  testImages: number;
  meanAccuracyBySeverity: number[];
  calibrationBins: number;
  cleanCalibrationError: number;
  calibrationError: Record<string, number[]>;
  meanCalibrationErrorBySeverity: number[];
  relative?: { perCorruption: Record<string, number>; mCE: number };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

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
  const meanError =
    Object.values(ce.accuracy)
      .flat()
      .reduce((s, a) => s + (1 - a), 0) / 6;
  assert.ok(Math.abs(ce.meanCorruptionError - meanError) < 1e-12);
  // Mean top-1 and ECE over the corruptions, per severity; ECE (15 bins) for every corruption.
  const perSeverity = (table: Record<string, number[]>) =>
    ce.severities.map((_, k) => mean(Object.values(table).map((row) => row[k]!)));
  assert.deepEqual(ce.meanAccuracyBySeverity, perSeverity(ce.accuracy));
  assert.equal(ce.calibrationBins, 15);
  assert.deepEqual(Object.keys(ce.calibrationError), Object.keys(ce.accuracy));
  for (const row of Object.values(ce.calibrationError)) {
    assert.equal(row.length, 2);
    for (const e of row) assert.ok(e >= 0 && e <= 1, String(e));
  }
  assert.deepEqual(ce.meanCalibrationErrorBySeverity, perSeverity(ce.calibrationError));
  assert.ok(ce.cleanCalibrationError >= 0 && ce.cleanCalibrationError < 1);

  const sc = robust('supcon', '--baseline', join(dir, 'ce'));
  assert.ok(sc.relative !== undefined);
  const ratios = Object.keys(sc.accuracy).map((c) => {
    const err = (x: number[]) => x.reduce((s, a) => s + (1 - a), 0);
    return err(sc.accuracy[c]!) / err(ce.accuracy[c]!);
  });
  assert.ok(Math.abs(sc.relative.mCE - ratios.reduce((a, b) => a + b, 0) / ratios.length) < 1e-12);
  const written = JSON.parse(readFileSync(join(dir, 'supcon', 'robustness.json'), 'utf8')) as Result;
  assert.deepEqual(written.accuracy, sc.accuracy);
  assert.deepEqual(written.calibrationError, sc.calibrationError);
  assert.equal(written.cleanCalibrationError, sc.cleanCalibrationError);
  const summary = JSON.parse(readFileSync(join(dir, 'supcon', 'summary.json'), 'utf8')) as Record<
    string,
    number
  >;
  assert.equal(summary['mCE'], sc.relative.mCE);
  // The same run, flags and seed give the same accuracies and calibration errors.
  const again = robust('supcon');
  assert.deepEqual(again.accuracy, sc.accuracy);
  assert.deepEqual(again.calibrationError, sc.calibrationError);
  // The text output has the means per severity.
  const text = cli(
    'robustness',
    '--run',
    join(dir, 'ce'),
    '--limit',
    '400',
    '--epochs',
    '3',
    '--corruptions',
    'jpeg',
    '--severities',
    '1,5',
    '--quiet',
  );
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^mean top-1 +\d+\.\d +\d+\.\d$/m);
  assert.match(
    text.stdout,
    /^mean ECE +\d+\.\d +\d+\.\d +\(clean \d+\.\d; expected calibration error, 15 bins, %\)$/m,
  );

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

test('a run on a flat folder (no train/ and test/) is refused in one sentence', () => {
  const root = mkdtempSync(join(tmpdir(), 'supcon-robust-flat-'));
  try {
    const data = join(root, 'images');
    for (const [c, name] of ['circle', 'cross', 'square'].entries()) {
      mkdirSync(join(data, name), { recursive: true });
      for (let i = 0; i < 6; i++) {
        const pixels = new Uint8Array(12 * 12 * 3).map(
          (_, k) => (k % 3 === c ? 200 : 30) + ((i * 13 + k) % 30),
        );
        writeFileSync(join(data, name, `${i}.png`), encodePng(pixels, 12, 12, 3));
      }
    }
    const run = join(root, 'run');
    const small = ['--size', '12', '--encoder', 'mlp', '--epochs', '1', '--batch-size', '8', '--quiet'];
    const t = cli('train', '--dataset', `folder:${data}`, ...small, '--out', run, '--knn-k', '0');
    assert.equal(t.status, 0, t.stderr);
    const r = cli('robustness', '--run', run, '--quiet');
    assert.equal(r.status, 2);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('supcon: warning:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(
      lines[0]!,
      /^supcon: Run `.*run` was trained on folder:.*images, which has no test split \(a folder dataset has one only with train\/ and test\/ folders of class folders\); robustness corrupts test images, so it needs one\.$/,
    );
    assert.ok(!existsSync(join(run, 'robustness.json')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
