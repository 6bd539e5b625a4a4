/**
 * `supcon report --run DIR` (issue 15, item 13): report.html for any run folder, with the date and
 * command line (or "not recorded"), the hyperparameters, results in percent named by split, and
 * what is missing with the command that adds it; a run without a test split shows "Validation
 * embeddings". Tiny runs: an MLP on a few hundred Fashion-MNIST images, and a flat folder of PNGs.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodePng } from '@supcon/node';
import { cli, hasFashion, readJson, tinyTrain } from './helpers.js';

const html = (run: string) => readFileSync(join(run, 'report.html'), 'utf8');
const noTemporaryFiles = (run: string) =>
  assert.deepEqual(
    readdirSync(run).filter((f) => f.includes('.tmp-')),
    [],
  );

test('report is listed by --help and has its own help', () => {
  const all = cli('--help');
  assert.match(all.stdout, /^ {2}report\s+Write report\.html/m);
  const r = cli('report', '--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /Usage: supcon report --run DIR/);
  assert.match(r.stdout, /--points N/);
});

test('report refuses a folder that is not a run, in one sentence naming --run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-report-empty-'));
  try {
    const r = cli('report', '--run', dir);
    assert.equal(r.status, 2);
    assert.match(r.stderr.trim(), /^supcon: Invalid value for `--run`\. Expected a run folder .*Received: /);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.equal(existsSync(join(dir, 'report.html')), false);
    const missing = cli('report', '--run', join(dir, 'nothing-here'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /no such folder/);
    assert.equal(cli('report').status, 2);
    // A sweep folder: pointed to one of its runs.
    mkdirSync(join(dir, 'temperature=0.1'));
    writeFileSync(join(dir, 'temperature=0.1', 'config.json'), '{}');
    writeFileSync(join(dir, 'sweep.json'), '{}');
    const sweep = cli('report', '--run', dir);
    assert.equal(sweep.status, 2);
    assert.match(sweep.stderr, /not a sweep folder.*--run .*temperature=0\.1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('a tiny train run', { skip: !hasFashion && 'needs Debian dataset-fashion-mnist' }, () => {
  let root: string;
  let run: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'supcon-report-'));
    run = join(root, 'run');
    const r = cli('train', ...tinyTrain(400, 200), '--out', run, '--quiet');
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('train records the date and command line in summary.json', () => {
    const summary = readJson(join(run, 'summary.json'));
    assert.deepEqual(summary['commandLine'], [
      'supcon',
      'train',
      ...tinyTrain(400, 200),
      '--out',
      run,
      '--quiet',
    ]);
    assert.ok(Math.abs(Date.parse(summary['startedAt'] as string) - Date.now()) < 10 * 60_000);
  });

  test('before the probe: loss curves, hyperparameters, and `supcon linear --run` named as missing', () => {
    const r = cli('report', '--run', run, '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { report: string; figures: string[]; missing: string[] };
    assert.equal(out.report, join(run, 'report.html'));
    for (const f of ['loss.png', 'accuracy.png', 'embedding.png']) {
      assert.ok(out.figures.includes(f), f);
      assert.ok(existsSync(join(run, f)), f);
    }
    assert.ok(out.missing.some((m) => m.includes(`supcon linear --run ${run}`)));
    const page = html(run);
    assert.match(page, /SupCon \(supervised contrastive\)/);
    assert.match(page, /<th>Batch size<\/th><td>128<\/td>/);
    assert.match(page, /<th>Temperature τ<\/th><td>0\.1<\/td>/);
    assert.match(page, /<th>Epochs<\/th><td>1<\/td>/);
    assert.match(page, /<th>Command line<\/th><td>supcon train --encoder mlp --limit 400/);
    assert.match(page, /<th>Started<\/th><td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC<\/td>/);
    assert.match(page, /kNN monitor top-1, validation, last epoch<\/th><td>\d+\.\d\d%/);
    assert.match(page, /alt="Test embeddings projected to 2-D by UMAP"/);
    assert.match(page, /supcon linear --run/);
    noTemporaryFiles(run);
  });

  test('--projection pca draws the embeddings by PCA; an unknown projection is refused', () => {
    const r = cli('report', '--run', run, '--points', '200', '--projection', 'pca');
    assert.equal(r.status, 0, r.stderr);
    assert.match(html(run), /alt="Test embeddings projected to 2-D by PCA"/);
    const bad = cli('report', '--run', run, '--projection', 'tsne');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--projection.*umap, pca.*tsne/);
  });

  test('after the probe: the test probe and the validation kNN are separate, labelled, in percent', () => {
    assert.equal(cli('linear', '--run', run, '--epochs', '1', '--quiet').status, 0);
    const r = cli('report', '--run', run, '--points', '0');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Report: /m);
    const page = html(run);
    assert.match(page, /<th>linear probe top-1, test<\/th><td>\d+\.\d\d%<\/td>/);
    assert.match(page, /<th>kNN top-1, test \(k \d+, bank \d+\)<\/th><td>\d+\.\d\d%<\/td>/);
    assert.doesNotMatch(page, /No linear-probe results/);
    assert.match(page, /--points 0/);
  });

  test('a run from before the command line was recorded says "not recorded"; no summary.json is fine', () => {
    const summary = readJson(join(run, 'summary.json'));
    delete summary['commandLine'];
    delete summary['startedAt'];
    writeFileSync(join(run, 'summary.json'), JSON.stringify(summary));
    assert.equal(cli('report', '--run', run, '--points', '0').status, 0);
    assert.match(html(run), /<th>Command line<\/th><td>not recorded<\/td>/);
    assert.match(html(run), /<th>Started<\/th><td>not recorded/);
    rmSync(join(run, 'summary.json'));
    rmSync(join(run, 'checkpoint.bin'));
    const r = cli('report', '--run', run, '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { figures: string[]; missing: string[] };
    assert.ok(out.figures.includes('loss.png'));
    assert.ok(!out.figures.includes('embedding.png'));
    assert.ok(out.missing.some((m) => m.includes(`supcon linear --run ${run}`)));
    assert.ok(out.missing.some((m) => m.includes('No checkpoint.bin')));
  });
});

describe('a run on a flat folder (no test split)', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'supcon-report-folder-'));
    for (const [c, name] of ['red', 'green', 'blue'].entries()) {
      mkdirSync(join(root, 'images', name), { recursive: true });
      for (let i = 0; i < 6; i++) {
        const pixels = new Uint8Array(12 * 12 * 3).map(
          (_, k) => (k % 3 === c ? 200 : 30) + ((i * 13 + k) % 30),
        );
        writeFileSync(join(root, 'images', name, `${i}.png`), encodePng(pixels, 12, 12, 3));
      }
    }
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test('the projection is titled "Validation embeddings" and the probe is named as validation', () => {
    const run = join(root, 'run');
    const small = ['--size', '12', '--encoder', 'mlp', '--epochs', '1', '--batch-size', '8', '--quiet'];
    assert.equal(
      cli('train', '--dataset', `folder:${join(root, 'images')}`, ...small, '--out', run).status,
      0,
    );
    assert.equal(cli('linear', '--run', run, '--quiet').status, 0);
    const r = cli('report', '--run', run);
    assert.equal(r.status, 0, r.stderr);
    const page = html(run);
    assert.match(page, /alt="Validation embeddings/);
    assert.doesNotMatch(page, /Test embeddings/);
    assert.match(page, /linear probe top-1, validation \(no test split\)<\/th><td>\d+\.\d\d%/);
  });
});
