/** `supcon robustness` shows its progress with the time left (issue 15, item 15), also off a terminal. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli, hasFashion, tinyTrain } from './helpers.js';

test('robustness prints progress lines with the time left; --quiet silences them', {
  skip: !hasFashion && 'no Fashion-MNIST',
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-robust-progress-'));
  const run = join(dir, 'run');
  const t = cli('train', '--out', run, ...tinyTrain(512, 200), '--knn-k', '0', '--quiet', '--json');
  assert.equal(t.status, 0, t.stderr);
  const flags = [
    '--run',
    run,
    '--limit',
    '200',
    '--corruptions',
    'gaussian-noise,contrast',
    '--severities',
    '1,3',
  ];
  const r = cli('robustness', ...flags, '--epochs', '2');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('robustness '));
  // One line per corruption (its severities done), each with the elapsed time and the time left.
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0]!, /^robustness 2\/4 \(gaussian-noise done\), \d+s elapsed, \d+s left$/);
  assert.match(lines[1]!, /^robustness 4\/4 \(contrast done\), \d+s elapsed, 0s left$/);
  const quiet = cli('robustness', ...flags, '--epochs', '2', '--quiet');
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.equal(quiet.stderr, '');
  rmSync(dir, { recursive: true });
});
