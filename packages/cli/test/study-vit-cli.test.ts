/**
 * `supcon study vit`: SupCon against cross-entropy on vit-mini with the ViT recipe. The dry run lists
 * 2 methods × 3 seeds in OUT/vit-METHOD/seed=S with the recipe's flags (label smoothing for
 * cross-entropy only); the recipe's own flags are refused after `--`; end to end on a Fashion-MNIST
 * slice (one seed, `-- --epochs 2` replacing the study's 5), each config.json holds the recipe, and
 * the study writes its JSON, table and bar figure.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { studyCommand } from '../src/commands/study.js';
import { cli, hasFashion, readJson, tinyFashion } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'supcon-study-vit-'));
const data = hasFashion ? tinyFashion(384, 200) : '';
after(() => {
  rmSync(root, { recursive: true, force: true });
  if (data !== '') rmSync(data, { recursive: true });
});

test('study --help lists vit', () => {
  assert.match(studyCommand.help, /\n {2}vit {10}the ViT comparison: SupCon vs cross-entropy on vit-mini/);
});

test('study vit --dry-run: 2 methods × 3 seeds with the ViT recipe, label smoothing for ce only', () => {
  const out = join(root, 'dry');
  const r = cli('study', 'vit', '--out', out, '--dry-run', '--json');
  assert.equal(r.status, 0, r.stderr);
  const plan = JSON.parse(r.stdout) as {
    runs: { method: string; seed: number; run: string; state: string }[];
    commands: string[];
  };
  assert.deepEqual(
    plan.runs.map((x) => [x.run.slice(out.length + 1), x.method, x.seed, x.state]),
    [1, 2, 3]
      .map((s) => [`vit-supcon/seed=${s}`, 'supcon', s, 'to train'])
      .concat([1, 2, 3].map((s) => [`vit-ce/seed=${s}`, 'ce', s, 'to train'])),
  );
  const [supcon, ce] = plan.commands as [string, string];
  for (const c of [supcon, ce])
    for (const flag of [
      '--encoder vit-mini --epochs 5',
      '--optimizer adam --decoupled --lr 0.001 --weight-decay 0.05',
      '--warmup-epochs 0.5 --decay cosine --clip-grad-norm 1 --augment randaugment',
    ])
      assert.ok(c.includes(flag), `${c} lacks ${flag}`);
  assert.ok(ce.includes('--method ce') && ce.includes('--label-smoothing 0.1'));
  assert.ok(supcon.includes('--method supcon') && !supcon.includes('--label-smoothing'));
  // Nothing written by a dry run.
  assert.throws(() => readdirSync(out));
});

test('study vit refuses its own flags after -- and other values, one sentence, nothing written', () => {
  const out = join(root, 'refused');
  for (const [args, message] of [
    [['--', '--encoder', 'mlp'], /Train flag `--encoder` is set by study vit itself/],
    [['--', '--label-smoothing', '0.2'], /Train flag `--label-smoothing` is set by study vit itself/],
    [['--values', 'supcon'], /`--values`. Expected no --values for study vit \(it compares supcon with ce\)/],
  ] as const) {
    const r = cli('study', 'vit', '--out', out, ...args);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  assert.throws(() => readdirSync(out));
});

test('study vit end to end on a slice, one seed, two epochs after --: the recipe in each config.json; JSON, table, bars', {
  skip: !hasFashion && 'no Fashion-MNIST',
}, () => {
  const out = join(root, 'e2e');
  const tiny = ['--dataset', `fashion-mnist:${data}`, '--validation', '128', '--batch-size', '64'];
  const short = ['--epochs', '2', '--warmup-epochs', '0', '--probe-epochs', '1', '--knn-k', '0'];
  const r = cli('study', 'vit', '--out', out, '--seeds', '1', '--json', '--quiet', '--', ...tiny, ...short);
  assert.equal(r.status, 0, r.stderr);
  const result = JSON.parse(r.stdout) as {
    runs: { method: string; run: string; testAccuracy: number }[];
    groups: { method: string; readout: string }[];
    trainedNow: number;
  };
  assert.equal(result.trainedNow, 2);
  for (const run of result.runs) {
    const config = readJson(join(run.run, 'config.json')) as {
      train: { method: string; epochs: number; labelSmoothing?: number; optimizer: Record<string, unknown> };
      model: { encoder: Record<string, unknown> };
    };
    assert.deepEqual(config.model.encoder, {
      kind: 'vit',
      patch: 7,
      dim: 64,
      depth: 4,
      heads: 2,
      mlpRatio: 2,
      pool: 'mean',
      gelu: 'tanh',
    });
    assert.deepEqual(config.train.optimizer, {
      kind: 'adam',
      momentum: 0.9,
      weightDecay: 0.05,
      decoupled: true,
      clipGradNorm: 1,
    });
    assert.equal(config.train.epochs, 2, "the epochs after -- replace the study's");
    assert.equal(config.train.labelSmoothing, run.method === 'ce' ? 0.1 : undefined);
    assert.ok(run.testAccuracy > 0.1 && run.testAccuracy <= 1, String(run.testAccuracy));
  }
  assert.deepEqual(
    result.groups.map((g) => `${g.method}:${g.readout}`),
    ['supcon:probe', 'ce:probe', 'ce:classifier'],
  );
  const dir = join(out, 'findings');
  assert.deepEqual(readdirSync(dir).sort(), ['findings-vit.png', 'vit.json', 'vit.md']);
  assert.ok(statSync(join(dir, 'findings-vit.png')).size > 1000);
  // A study of methods: no x column, as Table 2.
  assert.match(readFileSync(join(dir, 'vit.md'), 'utf8'), /^\| read-out \| seeds \| test top-1 mean ± std/);
});
