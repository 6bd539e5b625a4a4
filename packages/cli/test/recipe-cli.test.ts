/**
 * The recipe options from the command line on a Fashion-MNIST slice (MLP encoder, one epoch): the
 * balanced sampler and the joint probe train, the joint probe is kept by `supcon linear --joint` in
 * probe.json (the format `supcon predict` reads), config.json holds the fields only when set, the demo
 * skips the separate probe with --joint-probe, and `supcon study recipe` lists its arms.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli, hasFashion, readJson, tinyFashion, tinyRun } from './helpers.js';

const skip = !hasFashion && 'no Fashion-MNIST';
const data = hasFashion ? tinyFashion(512, 200) : '';
const root = mkdtempSync(join(tmpdir(), 'supcon-recipe-'));
after(() => {
  if (data !== '') rmSync(data, { recursive: true });
  rmSync(root, { recursive: true });
});
const tiny = () => [...tinyRun(data, 40), '--quiet'];

test('train --sampler balanced --joint-probe, then linear --joint keeps the joint probe', { skip }, () => {
  const out = join(root, 'joint');
  const t = cli(
    'train',
    '--out',
    out,
    ...tiny(),
    '--sampler',
    'balanced',
    '--samples-per-class',
    '4',
    '--joint-probe',
    '--json',
  );
  assert.equal(t.status, 0, t.stderr);
  const train = readJson(join(out, 'config.json'))['train'] as Record<string, unknown>;
  assert.equal(train['sampler'], 'balanced');
  assert.equal(train['samplesPerClass'], 4);
  assert.equal(train['jointProbe'], true);
  const l = cli('linear', '--run', out, '--joint', '--json');
  assert.equal(l.status, 0, l.stderr);
  const r = JSON.parse(l.stdout) as Record<string, unknown>;
  assert.equal(r['probe'], 'joint');
  assert.equal(r['probeEpochs'], 1);
  for (const k of ['validationAccuracy', 'testAccuracy'])
    assert.ok((r[k] as number) > 0.1 && (r[k] as number) <= 1, `${k} ${r[k]}`);
  const probe = readJson(join(out, 'probe.json'));
  assert.equal(probe['format'], 'supcon-linear-probe');
  assert.equal((probe['accuracy'] as Record<string, number>)['validation'], r['validationAccuracy']);
  // A separate probe afterwards replaces it, and the summary says so.
  const s = cli('linear', '--run', out, '--epochs', '1', '--json');
  assert.equal(s.status, 0, s.stderr);
  assert.equal(readJson(join(out, 'summary.json'))['probe'], undefined);
});

test('defaults are not stored; refusals name the argument', { skip }, () => {
  const out = join(root, 'plain');
  const t = cli('train', '--out', out, ...tiny(), '--sampler', 'random', '--json');
  assert.equal(t.status, 0, t.stderr);
  const train = readJson(join(out, 'config.json'))['train'] as Record<string, unknown>;
  for (const k of ['sampler', 'samplesPerClass', 'jointProbe']) assert.equal(k in train, false, k);
  const noJoint = cli('linear', '--run', out, '--joint');
  assert.equal(noJoint.status, 2);
  assert.match(noJoint.stderr, /has no joint probe \(it was trained without --joint-probe\)/);
  const bad = cli(
    'train',
    '--out',
    join(root, 'bad'),
    ...tiny(),
    '--sampler',
    'balanced',
    '--samples-per-class',
    '3',
  );
  assert.equal(bad.status, 2);
  assert.match(
    bad.stderr,
    /`samplesPerClass`. Expected a divisor of batchSize=40. Received: samplesPerClass=3/,
  );
  const ce = cli('train', '--out', join(root, 'ce'), ...tiny(), '--method', 'ce', '--joint-probe');
  assert.equal(ce.status, 2);
  assert.match(ce.stderr, /jointProbe/);
});

test('demo --joint-probe reports the joint probe without fitting one', { skip }, () => {
  const out = join(root, 'demo');
  const d = cli('demo', '--out', out, ...tiny(), '--knn-k', '0', '--joint-probe', '--json');
  assert.equal(d.status, 0, d.stderr);
  const r = JSON.parse(d.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
  assert.equal(r['probe'], 'joint');
  assert.ok((r['testAccuracy'] as number) > 0.1);
});

test('study recipe --dry-run lists the baseline, balanced, joint-probe and moco arms for 3 seeds', () => {
  const out = join(root, 'study');
  const dry = cli('study', 'recipe', '--out', out, '--dry-run', '--json');
  assert.equal(dry.status, 0, dry.stderr);
  const r = JSON.parse(dry.stdout) as {
    runs: { x: string; seed: number; run: string }[];
    commands: string[];
  };
  assert.equal(r.runs.length, 12);
  assert.deepEqual([...new Set(r.runs.map((x) => x.x))], ['baseline', 'balanced', 'joint-probe', 'moco']);
  assert.ok(r.runs.some((x) => x.run === join(out, 'table2-supcon', 'seed=1')));
  assert.ok(r.commands.some((c) => c.includes('--sampler balanced --samples-per-class 32')));
  assert.ok(r.commands.some((c) => c.includes('--joint-probe')));
  assert.ok(r.commands.some((c) => c.includes('--out ' + join(out, 'recipe-moco') + ' ')));
  assert.ok(r.commands.some((c) => c.includes('--queue-size 4096 --queue-momentum 0.99')));
});
