/**
 * Folder datasets from the command line (issue 15, item 14): a small flat folder (no train/ and
 * test/) trains with the default fractional validation split, `linear` and `demo` give it a
 * validation-only probe that says there is no test set, and a class folder holding a folder is one
 * sentence. Tiny PNG folders written here, an MLP, seconds per command.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodePng } from '@supcon/node';
import { cli, readJson } from './helpers.js';

const CLASSES = ['circle', 'cross', 'square'];
const PER_CLASS = 6;

/** A 12×12 RGB image whose dominant channel is the class, varied a little per image. */
function image(c: number, i: number): Uint8Array {
  return new Uint8Array(12 * 12 * 3).map((_, k) => (k % 3 === c ? 200 : 30) + ((i * 13 + k * 5) % 30));
}

function writeFlatFolder(root: string): void {
  for (const [c, name] of CLASSES.entries()) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < PER_CLASS; i++)
      writeFileSync(join(root, name, `${i}.png`), encodePng(image(c, i), 12, 12, 3));
  }
}

const small = ['--size', '12', '--encoder', 'mlp', '--epochs', '1', '--batch-size', '8', '--quiet'];

/** stderr without the warning a missing native engine may print. */
const errorLines = (stderr: string) =>
  stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('supcon: warning:'));

describe('a flat folder of 18 images (3 classes, no train/ or test/)', () => {
  let root: string;
  let data: string;
  let run: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'supcon-folder-cli-'));
    data = join(root, 'images');
    run = join(root, 'run');
    writeFlatFolder(data);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('train holds out 10% (at least 1 image per class) by default, and records it', () => {
    const r = cli('train', '--dataset', `folder:${data}`, ...small, '--out', run, '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.equal((readJson(join(run, 'config.json'))['data'] as { validation: number }).validation, 0.1);
    const knn = (JSON.parse(r.stdout) as { knn: { validation: { images: number } } }).knn;
    assert.equal(knn.validation.images, 3, 'one validation image per class');
  });

  test('an explicit --validation count is kept as given', () => {
    const out = join(root, 'run-count');
    const r = cli('train', '--dataset', `folder:${data}`, ...small, '--validation', '6', '--out', out);
    assert.equal(r.status, 0, r.stderr);
    assert.equal((readJson(join(out, 'config.json'))['data'] as { validation: number }).validation, 6);
  });

  test('linear: a validation-only probe that says there is no test set', () => {
    const text = cli('linear', '--run', run, '--quiet');
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^Linear probe: validation top-1 \d+\.\d\d%, top-5/);
    assert.match(text.stdout, /the dataset has no test set \(no train\/ and test\/ folders\)/);
    assert.doesNotMatch(text.stdout, /test top-1/);
    const r = cli('linear', '--run', run, '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(out['testSet'], false);
    assert.equal(out['testAccuracy'], undefined);
    assert.equal(typeof out['validationAccuracy'], 'number');
    assert.equal(out['probeWeightDecay'], 1e-4, 'one weight decay: nothing chosen on validation');
    assert.equal((out['knn'] as { validation: { images: number } }).validation.images, 3);
    const probe = readJson(join(run, 'probe.json'));
    assert.deepEqual(Object.keys(probe['accuracy'] as object).sort(), ['train', 'validation']);
    assert.equal(readJson(join(run, 'summary.json'))['testSet'], false);
  });

  test('demo: trains, probes on validation and writes its report', () => {
    const out = join(root, 'demo');
    const r = cli('demo', '--dataset', `folder:${data}`, ...small, '--out', out);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /the dataset has no test set/);
    assert.match(r.stdout, /kNN validation top-1/);
    assert.ok(existsSync(join(out, 'report.html')));
    assert.equal(readJson(join(out, 'summary.json'))['testSet'], false);
  });

  test('--help of train and linear describe this', () => {
    assert.match(
      cli('train', '--help').stdout,
      /folder: datasets 0\.1, every class of 2\+ images giving at least 1/,
    );
    assert.match(cli('linear', '--help').stdout, /validation-only probe/);
  });
});

test('a class folder holding a folder: one sentence naming it, from data inspect and train', () => {
  const root = mkdtempSync(join(tmpdir(), 'supcon-folder-nested-'));
  try {
    const data = join(root, 'images');
    writeFlatFolder(data);
    mkdirSync(join(data, 'cross', 'more'));
    const expected = `supcon: Invalid dataset file \`${join(data, 'cross', 'more')}\`: it is a folder inside the class folder \`cross/\`, which must hold only JPEG, PNG or WebP files (one folder of images per class, directly in \`${data}\`).`;
    const inspect = cli('data', 'inspect', `folder:${data}`);
    assert.notEqual(inspect.status, 0);
    assert.deepEqual(errorLines(inspect.stderr), [expected]);
    const train = cli('train', '--dataset', `folder:${data}`, ...small, '--out', join(root, 'run'));
    assert.notEqual(train.status, 0);
    assert.deepEqual(errorLines(train.stderr), [expected]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('sweep on a flat folder: validation top-1 per run, no NaN test figure, finished runs not probed again', () => {
  const root = mkdtempSync(join(tmpdir(), 'supcon-folder-sweep-'));
  try {
    const data = join(root, 'images');
    writeFlatFolder(data);
    const out = join(root, 'sweep');
    const train = ['--dataset', `folder:${data}`, ...small.filter((f) => f !== '--quiet')];
    const args = ['sweep', '--vary', 'seed=1,2', '--out', out, '--', ...train];
    const first = cli(...args);
    assert.equal(first.status, 0, first.stderr);
    const runs = (
      readJson(join(out, 'sweep.json')) as { runs: { testAccuracy: unknown; validationAccuracy: number }[] }
    ).runs;
    assert.equal(runs.length, 2);
    for (const r of runs) {
      assert.equal(r.testAccuracy, null);
      assert.ok(r.validationAccuracy >= 0 && r.validationAccuracy <= 1);
    }
    assert.doesNotMatch(first.stderr + first.stdout, /NaN/);
    assert.match(first.stderr, /validation top-1 [\d.]+% \(the dataset has no test split\)/);
    assert.match(first.stdout, /n\/a/);
    const again = cli(...args);
    assert.equal(again.status, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /training|probing again/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
