/**
 * The demo's recipe (issue 10): `supcon study demo` lists its arms (fp32 SupCon runs in
 * OUT/demo-ARM/seed=S with the arm's flags), the fashion-demo preset is fashion-quick with the
 * winning arm's three changes, and `supcon demo` trains it when no --preset is given (a tiny slice,
 * the preset's width-24 ResNet, one epoch) while `--preset fashion-quick` still gives width 16.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FASHION_DEMO, presetSpec } from '@supcon/node';
import { DEMO_PRESET } from '../src/commands/demo.js';
import { trainFlagSpecs } from '../src/commands/train-flags.js';
import { specFromFlags } from '../src/commands/train-spec.js';
import { parseFlags } from '../src/flags.js';
import { DEMO_ARMS } from '../src/study/studies.js';
import { cli, hasFashion, readJson, tinyFashion } from './helpers.js';

const skip = !hasFashion && 'no Fashion-MNIST';
const data = hasFashion ? tinyFashion(256, 100) : '';
const root = mkdtempSync(join(tmpdir(), 'supcon-study-demo-'));
after(() => {
  if (data !== '') rmSync(data, { recursive: true });
  rmSync(root, { recursive: true, force: true });
});

const specOf = (argv: string[]) => specFromFlags(parseFlags(argv, trainFlagSpecs).flags);

test('the fashion-demo preset is fashion-quick with the w24-e15 arm’s width, lr and epochs', () => {
  assert.equal(DEMO_PRESET, 'fashion-demo');
  const demo = presetSpec('fashion-demo');
  const quick = presetSpec('fashion-quick');
  assert.deepEqual(FASHION_DEMO, { width: 24, lr: 0.2, epochs: 15 });
  assert.deepEqual(demo.model.encoder, { ...quick.model.encoder, baseChannels: 24 });
  assert.deepEqual(demo.train, { ...quick.train, lr: 0.2, epochs: 15 });
  assert.deepEqual({ ...demo, train: 0, model: 0 }, { ...quick, train: 0, model: 0 });
  // The same run as the study's arm, so the arm's runs are the preset's.
  assert.deepEqual(specOf(['--preset', 'fashion-demo']), specOf(DEMO_ARMS['w24-e15']!));
  assert.notDeepEqual(specOf(['--preset', 'fashion-demo']), specOf(DEMO_ARMS['w16-e25']!));
});

test('study demo --dry-run: one fp32 SupCon run per arm at seed 0, the arm’s flags; --seeds adds seeds', () => {
  const out = join(root, 'dry');
  const r = cli('study', 'demo', '--out', out, '--dry-run', '--json');
  assert.equal(r.status, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as {
    runs: { x: string; method: string; seed: number; run: string; state: string }[];
    commands: string[];
  };
  const arms = Object.keys(DEMO_ARMS);
  assert.deepEqual(
    plan.runs.map((x) => [x.run.slice(out.length + 1), x.x, x.method, x.seed, x.state]),
    arms.map((a) => [`demo-${a}/seed=0`, a, 'supcon', 0, 'to train']),
  );
  for (const [i, arm] of arms.entries()) {
    assert.ok(plan.commands[i]!.includes(DEMO_ARMS[arm]!.join(' ')), plan.commands[i]);
    assert.ok(!plan.commands[i]!.includes('bf16'), `${plan.commands[i]} asks for bf16`);
  }
  const seeds = cli(
    'study',
    'demo',
    '--out',
    out,
    '--values',
    'w24-e15',
    '--seeds',
    '0,1,2',
    '--dry-run',
    '--json',
  );
  assert.equal(seeds.status, 0, seeds.stderr);
  const runs = (JSON.parse(seeds.stdout) as { runs: { run: string }[] }).runs;
  assert.deepEqual(
    runs.map((x) => x.run.slice(out.length + 1)),
    [0, 1, 2].map((s) => `demo-w24-e15/seed=${s}`),
  );
  assert.throws(() => readdirSync(out));
});

test('study demo refuses an unknown arm and its own flags after --, one sentence', () => {
  const out = join(root, 'refused');
  const bad = cli('study', 'demo', '--out', out, '--values', 'w48-e5', '--dry-run');
  assert.equal(bad.status, 2);
  assert.match(
    bad.stderr,
    /`--values`.*Expected a comma list of arms \(w16-e25, w16-e25-lr0\.4, w24-e15, w32-e12, w24-e30-v1\)/,
  );
  const own = cli('study', 'demo', '--out', out, '--dry-run', '--', '--width', '16');
  assert.equal(own.status, 2);
  assert.match(own.stderr, /Train flag `--width` is set by study demo itself/);
  assert.throws(() => readdirSync(out));
});

test('supcon demo trains the fashion-demo preset by default; --preset fashion-quick still gives width 16', {
  skip,
}, () => {
  const tiny = [
    ...['--dataset', `fashion-mnist:${data}`, '--validation', '64', '--limit', '192'],
    ...['--batch-size', '64', '--epochs', '1', '--knn-k', '0', '--quiet', '--json'],
  ];
  const out = join(root, 'demo');
  const d = cli('demo', '--out', out, ...tiny);
  assert.equal(d.status, 0, d.stderr);
  const config = readJson(join(out, 'config.json')) as {
    model: { encoder: { kind: string; baseChannels: number } };
    train: { lr: number };
  };
  assert.deepEqual([config.model.encoder.kind, config.model.encoder.baseChannels], ['small-resnet', 24]);
  assert.equal(config.train.lr, 0.2);
  const quick = join(root, 'demo-quick');
  const q = cli('demo', '--out', quick, '--preset', 'fashion-quick', ...tiny);
  assert.equal(q.status, 0, q.stderr);
  const c2 = readJson(join(quick, 'config.json')) as typeof config;
  assert.deepEqual([c2.model.encoder.baseChannels, c2.train.lr], [16, 0.1]);
});
