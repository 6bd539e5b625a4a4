/**
 * `supcon sweep` end to end on a Fashion-MNIST slice (MLP encoder): one run per value, sweep.json and
 * sweep.png, finished runs skipped on a rerun, an interrupted one resumed, and the errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));
const cli = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
const hasFashion = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const trainFlags = ['--encoder', 'mlp', '--limit', '768', '--validation', '256', '--epochs', '1'];

interface Sweep {
  vary: string;
  runs: {
    value: string;
    run: string;
    testAccuracy: number;
    validationAccuracy: number;
    trainSeconds: number;
  }[];
}

test('a batch-size sweep: runs, files, skip and resume', { skip: !hasFashion && 'no Fashion-MNIST' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-sweep-'));
  const sweep = () => {
    const r = cli(
      'sweep',
      '--vary',
      'batch-size=64,128',
      '--out',
      dir,
      '--probe-epochs',
      '2',
      '--json',
      '--',
      ...trainFlags,
    );
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as Sweep;
  };
  const first = sweep();
  assert.equal(first.vary, 'batch-size');
  assert.deepEqual(
    first.runs.map((r) => r.value),
    ['64', '128'],
  );
  for (const r of first.runs) {
    assert.ok(r.testAccuracy > 0.3 && r.testAccuracy <= 1, `${r.value}: ${r.testAccuracy}`);
    assert.ok(r.trainSeconds > 0);
    const config = JSON.parse(readFileSync(join(r.run, 'config.json'), 'utf8')) as {
      train: { batchSize: number };
    };
    assert.equal(config.train.batchSize, Number(r.value));
  }
  const onDisk = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8')) as Sweep;
  assert.deepEqual(onDisk.runs, first.runs);
  assert.ok(statSync(join(dir, 'sweep.png')).size > 1000);

  // A rerun trains nothing: the checkpoints are untouched and the results are the same.
  const checkpoint = join(dir, 'batch-size=64', 'checkpoint.bin');
  const before = statSync(checkpoint).mtimeMs;
  assert.deepEqual(sweep().runs, first.runs);
  assert.equal(statSync(checkpoint).mtimeMs, before);

  // A run stopped before its probe is finished on the next call, with the same result.
  rmSync(join(dir, 'batch-size=128', 'summary.json'));
  const again = sweep();
  assert.equal(again.runs[1]!.testAccuracy, first.runs[1]!.testAccuracy);
  rmSync(dir, { recursive: true });
});

test('sweep errors name the flag and what was expected', () => {
  const bad = (args: string[], pattern: RegExp) => {
    const r = cli('sweep', ...args);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  };
  bad(['--out', '/tmp/x'], /`--vary NAME=V1,V2,...` is required/);
  bad(['--vary', 'temperature=0.1'], /`--out DIR` is required/);
  bad(['--vary', 'colour=1,2', '--out', '/tmp/x'], /`--vary`.*temperature.*colour=1,2/);
  bad(['--vary', 'lr=0.1,0.1', '--out', '/tmp/x'], /`--vary`.*distinct/);
  bad(['--vary', 'lr=0.1,0.2', '--out', '/tmp/x', '--', '--lr', '0.3'], /`--lr` is set by the sweep/);
});
