/**
 * What `supcon train` reports (issue 15, items 11 and 15): a line per epoch on stderr (loss, kNN,
 * time), the final loss, kNN accuracy and epochs in `--json`, training accuracy for cross-entropy,
 * and a warning when a convolutional encoder would train on the pure-JavaScript `cpu` backend.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cli, hasFashion, tinyTrain } from './helpers.js';

const skip = !hasFashion && 'no Fashion-MNIST';

interface EpochLine {
  type: string;
  epoch: number;
  loss: number;
  knnAccuracy?: number;
  accuracy?: number;
}

const epochRecords = (run: string) =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as EpochLine)
    .filter((r) => r.type === 'epoch');

test('train prints a line per epoch and --json holds the final loss, kNN accuracy and epochs', {
  skip,
}, () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-epochs-'));
  const run = join(dir, 'run');
  const r = cli('train', '--out', run, ...tinyTrain(1024, 300), '--epochs', '2', '--json');
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('epoch '));
  assert.equal(lines.length, 2, r.stderr);
  assert.match(lines[0]!, /^epoch 1\/2: loss \d+\.\d{4}, kNN validation top-1 \d+\.\d{2}% \(\d+ s\)$/);
  const s = JSON.parse(r.stdout);
  const epochs = epochRecords(run);
  assert.equal(s.epochs, 2);
  assert.equal(s.epochsDone, 2);
  assert.equal(s.loss, epochs[1]!.loss);
  assert.equal(s.knn.k, 200);
  assert.equal(s.knn.bank, 1024);
  assert.equal(s.knn.validation.images, 300);
  assert.equal(s.knn.validation.top1, epochs[1]!.knnAccuracy);
  assert.ok(s.knn.validation.top1 > 0.3 && s.knn.validation.top1 <= 1);
  assert.equal(s.trainAccuracy, undefined, 'supcon has no classifier to score');
  // --quiet keeps stderr free of progress and epoch lines.
  const quiet = cli('train', '--out', join(dir, 'quiet'), ...tinyTrain(256, 100), '--quiet', '--json');
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.equal(quiet.stderr, '');
  rmSync(dir, { recursive: true });
});

test('a cross-entropy run reports its training accuracy per epoch and in --json', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-epochs-'));
  const run = join(dir, 'ce');
  const r = cli('train', '--out', run, '--method', 'ce', ...tinyTrain(1024, 300), '--knn-k', '0', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /^epoch 1\/1: loss \d+\.\d{4}, train accuracy \d+\.\d{2}% \(\d+ s\)$/m);
  const s = JSON.parse(r.stdout);
  const [epoch] = epochRecords(run);
  assert.ok(epoch!.accuracy! > 0.3 && epoch!.accuracy! <= 1, String(epoch!.accuracy));
  assert.equal(s.trainAccuracy, epoch!.accuracy);
  assert.equal(s.knn, undefined, '--knn-k 0: no kNN monitor');
  rmSync(dir, { recursive: true });
});

test('--backend cpu with a convolutional encoder warns and suggests --encoder mlp', () => {
  // A missing dataset stops the run right after the warning, before any step.
  const missing = ['--dataset', 'folder:/nonexistent-supcon-data', '--out', '/tmp/supcon-never'];
  const conv = cli('train', '--backend', 'cpu', '--encoder', 'small-resnet', ...missing);
  assert.notEqual(conv.status, 0);
  assert.match(conv.stderr, /warning: .*`cpu` backend.*small-resnet.*minutes.*--encoder mlp/);
  const mlp = cli('train', '--backend', 'cpu', '--encoder', 'mlp', ...missing);
  assert.notEqual(mlp.status, 0);
  assert.doesNotMatch(mlp.stderr, /warning/);
  const demo = cli('demo', '--backend', 'cpu', ...missing);
  assert.match(demo.stderr, /warning: .*small-resnet.*--encoder mlp/);
});
