/**
 * `supcon demo --baseline ce` on a Fashion-MNIST slice (MLP encoder): the cross-entropy run trains in
 * DIR/baseline-ce with the demo's data and seed and its own epochs, is read out by its classifier and
 * by the probe, and the summary and the report show it beside SupCon; a stopped demo resumes both;
 * `--baseline-epochs` without `--baseline` is refused by name.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli, hasFashion, readJson, tinyFashion, tinyRun } from './helpers.js';

const skip = !hasFashion && 'no Fashion-MNIST';
const data = hasFashion ? tinyFashion(512, 200) : '';
const root = mkdtempSync(join(tmpdir(), 'supcon-demo-baseline-'));
after(() => {
  if (data !== '') rmSync(data, { recursive: true });
  rmSync(root, { recursive: true });
});
const tiny = () => [...tinyRun(data, 64), '--quiet', '--knn-k', '0'];

test('demo --baseline ce trains cross-entropy beside SupCon and the report compares them', { skip }, () => {
  const out = join(root, 'demo');
  const d = cli('demo', '--out', out, ...tiny(), '--baseline', 'ce', '--json');
  assert.equal(d.status, 0, d.stderr);
  const summary = JSON.parse(d.stdout) as Record<string, unknown>;
  const b = summary['baseline'] as Record<string, unknown>;
  assert.equal(b['run'], 'baseline-ce');
  assert.equal(b['method'], 'ce');
  assert.equal(b['epochs'], 2, 'default: the demo epochs (1) × its views (2)');
  assert.equal(b['views'], 1);
  for (const k of ['testAccuracy', 'classifierTestAccuracy', 'validationAccuracy', 'trainSeconds'])
    assert.ok(typeof b[k] === 'number' && Number.isFinite(b[k] as number), `${k}: ${b[k]}`);

  // the baseline is a run folder of its own: cross-entropy, the demo's seed and data, its epochs
  const config = readJson(join(out, 'baseline-ce', 'config.json'));
  const train = config['train'] as Record<string, unknown>;
  const demoConfig = readJson(join(out, 'config.json'));
  assert.equal(train['method'], 'ce');
  assert.equal(train['epochs'], 2);
  assert.equal(train['seed'], (demoConfig['train'] as Record<string, unknown>)['seed']);
  assert.deepEqual(config['data'], demoConfig['data']);
  const own = readJson(join(out, 'baseline-ce', 'summary.json'));
  assert.equal(own['testAccuracy'], b['testAccuracy']);
  assert.equal(own['classifierTestAccuracy'], b['classifierTestAccuracy']);

  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /<h2>Baseline<\/h2>/);
  assert.match(html, /cross-entropy \(baseline-ce\)/);
  const pct = (v: unknown) => `${(100 * (v as number)).toFixed(2)}%`;
  assert.ok(html.includes(pct(b['testAccuracy'])), 'the baseline probe top-1 is in the table');
  assert.ok(html.includes(pct(b['classifierTestAccuracy'])), "the baseline's own top-1 is in the table");
  assert.ok(html.includes(pct(summary['testAccuracy'])), "SupCon's probe top-1 is in the table");
  assert.ok(existsSync(join(out, 'comparison.png')));
  assert.match(html, /comparison\.png/);

  // again with --resume: both runs are finished, nothing trains, the same baseline figures come back
  const again = cli('demo', '--out', out, ...tiny(), '--baseline', 'ce', '--resume', '--json');
  assert.equal(again.status, 0, again.stderr);
  const b2 = (JSON.parse(again.stdout) as Record<string, unknown>)['baseline'] as Record<string, unknown>;
  assert.equal(b2['testAccuracy'], b['testAccuracy']);
  assert.equal(b2['classifierTestAccuracy'], b['classifierTestAccuracy']);
  // and the training times are kept, not replaced by this process's (nothing trained) few seconds
  const s2 = JSON.parse(again.stdout) as Record<string, unknown>;
  const kept = (now: unknown, before: unknown) => {
    const added = (now as number) - (before as number);
    return added >= 0 && added <= (s2['seconds'] as number);
  };
  assert.ok(
    kept(s2['trainSeconds'], summary['trainSeconds']),
    `${s2['trainSeconds']} vs ${summary['trainSeconds']}`,
  );
  assert.ok(
    kept(b2['trainSeconds'], b['trainSeconds']),
    `baseline ${b2['trainSeconds']} vs ${b['trainSeconds']}`,
  );
});

test('demo --baseline-epochs sets the baseline epochs; without --baseline it is refused', { skip }, () => {
  const out = join(root, 'epochs');
  const d = cli('demo', '--out', out, ...tiny(), '--baseline', 'ce', '--baseline-epochs', '1', '--json');
  assert.equal(d.status, 0, d.stderr);
  const b = (JSON.parse(d.stdout) as Record<string, unknown>)['baseline'] as Record<string, unknown>;
  assert.equal(b['epochs'], 1);
  const bad = cli('demo', '--out', join(root, 'bad'), ...tiny(), '--baseline-epochs', '3');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /`--baseline-epochs` needs `--baseline ce`/);
  assert.equal(existsSync(join(root, 'bad')), false, 'nothing written');
  const wrong = cli('demo', '--out', join(root, 'wrong'), ...tiny(), '--baseline', 'simclr');
  assert.notEqual(wrong.status, 0);
  assert.match(wrong.stderr, /--baseline.*Expected one of ce\. Received: simclr/);
});
