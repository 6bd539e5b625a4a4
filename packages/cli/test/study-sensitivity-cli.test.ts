/**
 * The randaugment (Fig. 7) and sensitivity (Fig. 4a) studies: their dry runs list the planned runs
 * (sensitivity: one run per knob change and the recipe's run once per loss, Adam at its own lr);
 * bad values are refused in one sentence; and each runs end to end on a Fashion-MNIST slice (MLP,
 * one epoch) with two values, writing its JSON, table and figure, the magnitude or the knob
 * reaching each run's config.json.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli, hasFashion, readJson, tinyFashion, tinyRun } from './helpers.js';

const skip = !hasFashion && 'no Fashion-MNIST';
const data = hasFashion ? tinyFashion(512, 300) : '';
after(() => {
  if (data !== '') rmSync(data, { recursive: true });
});
const tiny = [...tinyRun(data), '--probe-epochs', '2'];

interface Run {
  method: string;
  x: string;
  seed: number;
  run: string;
  testAccuracy: number;
  validationAccuracy: number;
}
interface StudyJson {
  runs: Run[];
  groups: { method: string; readout: string; x: string }[];
  trainedNow: number;
  files: string[];
  sensitivity?: {
    recipe: { augment: string; optimizer: string; lr: number; adamLr: number };
    runs: { method: string; knob: string; value: string; testAccuracy: number; validationAccuracy: number }[];
    spread: {
      method: string;
      runs: number;
      test: { min: number; max: number; range: number; std: number };
    }[];
  };
}

function study(...args: string[]): StudyJson {
  const r = cli('study', ...args);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as StudyJson;
}

const rel = (out: string, runs: readonly { run: string }[]) => runs.map((r) => r.run.slice(out.length + 1));

test('dry runs list the planned runs: randaugment 5 magnitudes × 2 losses, sensitivity 8 runs per loss', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'supcon-study-')), 'never');
  const dry = (name: string) => {
    const r = cli('study', name, '--out', out, '--dry-run', '--json');
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { runs: Run[]; commands: string[] };
  };
  const ra = dry('randaugment');
  assert.deepEqual(
    rel(out, ra.runs),
    ['supcon', 'ce'].flatMap((m) =>
      [3, 6, 9, 12, 15].map((v) => `randaugment-${m}/randaugment-magnitude=${v}`),
    ),
  );
  assert.match(
    ra.commands[1]!,
    /--vary randaugment-magnitude=3,6,9,12,15 .* --method ce --precision bf16 --augment randaugment$/,
  );

  const s = dry('sensitivity');
  // The recipe's run once per loss (augment=light), never again as optimizer=sgd or lr=0.1.
  const expected = (m: string) => [
    `sensitivity-${m}-augment/augment=light`,
    `sensitivity-${m}-augment/augment=supcon`,
    `sensitivity-${m}-augment/augment=randaugment`,
    `sensitivity-${m}-augment/augment=autoaugment`,
    `sensitivity-${m}-optimizer/optimizer=lars`,
    `sensitivity-${m}-adam/lr=0.001`,
    `sensitivity-${m}-lr/lr=0.05`,
    `sensitivity-${m}-lr/lr=0.2`,
  ];
  assert.deepEqual(rel(out, s.runs), [...expected('supcon'), ...expected('ce')]);
  assert.deepEqual(
    s.runs.slice(0, 8).map((r) => r.x),
    [
      'baseline',
      'augment=supcon',
      'augment=randaugment',
      'augment=autoaugment',
      'optimizer=lars',
      'optimizer=adam',
      'lr=0.05',
      'lr=0.2',
    ],
  );
  assert.ok(
    s.commands.includes(
      `npx supcon sweep --vary lr=0.001 --out ${out}/sensitivity-ce-adam --json -- --method ce --precision bf16 --optimizer adam`,
    ),
  );
  // The text form names each run's state.
  const text = cli('study', 'sensitivity', '--out', out, '--values', 'lr=0.2', '--dry-run');
  assert.match(text.stdout, /^study sensitivity: 4 runs, 0 finished, 4 to do/);
  assert.match(text.stdout, /to train +\S+sensitivity-ce-lr\/lr=0\.2/);
  assert.equal(existsSync(out), false);
  const help = cli('study', '--help').stdout;
  assert.match(help, /^ {2}randaugment +the paper's Fig\. 7/m);
  assert.match(help, /^ {2}sensitivity +the paper's Fig\. 4a/m);
});

test('bad values of the two studies: one sentence naming --values, nothing written', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'supcon-study-')), 'never');
  const bad = (args: string[], pattern: RegExp) => {
    const r = cli('study', ...args);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(existsSync(out), false);
  };
  bad(
    ['randaugment', '--out', out, '--values', '3,31'],
    /`--values`.*magnitude bins \(integers from 0 to 30\).*"3,31"/,
  );
  for (const v of ['augment=light', 'lr=0.1', 'optimizer=sgd', 'momentum=0.5', 'augment=blur'])
    bad(
      ['sensitivity', '--out', out, '--values', v],
      /`--values`.*changes from the recipe, KNOB=VALUE: augment=supcon\|randaugment\|autoaugment, optimizer=lars\|adam, lr=X/,
    );
  bad(
    ['sensitivity', '--out', out, '--', '--optimizer', 'adam'],
    /`--optimizer` is set by study sensitivity/,
  );
  bad(
    ['randaugment', '--out', out, '--', '--randaugment-magnitude', '3'],
    /`--randaugment-magnitude` is set by study randaugment/,
  );
});

test('randaugment end to end, 2 magnitudes × 2 losses: the magnitude in each config.json, JSON, table, PNG', {
  skip,
}, () => {
  const out = mkdtempSync(join(tmpdir(), 'supcon-study-'));
  const r = study('randaugment', '--out', out, '--values', '0,15', '--json', '--quiet', '--', ...tiny);
  assert.equal(r.trainedNow, 4);
  assert.deepEqual(
    r.runs.map((x) => [x.method, x.x]),
    [
      ['supcon', '0'],
      ['supcon', '15'],
      ['ce', '0'],
      ['ce', '15'],
    ],
  );
  for (const x of r.runs) {
    const config = readJson(join(x.run, 'config.json')) as { data: Record<string, unknown> };
    assert.deepEqual(
      [config.data['augment'], config.data['randAugmentMagnitude'], config.data['randAugmentOps']],
      ['randaugment', Number(x.x), 2],
    );
    assert.ok(x.testAccuracy > 0.2 && x.testAccuracy <= 1, String(x.testAccuracy));
  }
  const dir = join(out, 'findings');
  assert.ok(statSync(join(dir, 'findings-randaugment.png')).size > 1000);
  assert.match(readFileSync(join(dir, 'randaugment.md'), 'utf8'), /^\| RandAugment magnitude \| read-out \|/);
  assert.equal((readJson(join(dir, 'randaugment.json')) as unknown as StudyJson).runs.length, 4);
  rmSync(out, { recursive: true });
});

test('sensitivity end to end, 2 changes × 2 losses with the recipe once each: sensitivity.json, spread, box plot', {
  skip,
}, () => {
  const out = mkdtempSync(join(tmpdir(), 'supcon-study-'));
  const args = [
    'sensitivity',
    '--out',
    out,
    '--values',
    'optimizer=adam,lr=0.2',
    '--json',
    '--quiet',
    '--',
    ...tiny,
  ];
  const r = study(...args);
  assert.equal(r.trainedNow, 6);
  const s = r.sensitivity!;
  assert.deepEqual(s.recipe, { augment: 'light', optimizer: 'sgd', lr: 0.1, adamLr: 0.001 });
  assert.deepEqual(
    s.runs.map((x) => [x.method, x.knob, x.value]),
    ['supcon', 'ce'].flatMap((m) => [
      [m, 'baseline', 'light, sgd, lr 0.1'],
      [m, 'optimizer', 'adam'],
      [m, 'lr', '0.2'],
    ]),
  );
  // Each run changes one knob: Adam at its own lr, the lr point with SGD.
  const config = (run: string) =>
    readJson(join(run, 'config.json')) as {
      train: { lr: number; optimizer: { kind: string } };
      data: { augment: string };
    };
  const [base, adam, lr] = r.runs.slice(0, 3).map((x) => config(x.run));
  assert.deepEqual([base!.train.optimizer.kind, base!.train.lr, base!.data.augment], ['sgd', 0.1, 'light']);
  assert.deepEqual(
    [adam!.train.optimizer.kind, adam!.train.lr, adam!.data.augment],
    ['adam', 0.001, 'light'],
  );
  assert.deepEqual([lr!.train.optimizer.kind, lr!.train.lr], ['sgd', 0.2]);
  // The spread of each loss over its three runs.
  for (const sp of s.spread) {
    const tests = s.runs.filter((x) => x.method === sp.method).map((x) => x.testAccuracy);
    assert.equal(sp.runs, 3);
    assert.ok(
      Math.abs(sp.test.min - Math.min(...tests)) < 1e-12 &&
        Math.abs(sp.test.max - Math.max(...tests)) < 1e-12,
    );
    assert.ok(Math.abs(sp.test.range - (sp.test.max - sp.test.min)) < 1e-12);
    assert.ok(sp.test.std >= 0);
  }
  const dir = join(out, 'findings');
  const saved = readJson(join(dir, 'sensitivity.json')) as unknown as StudyJson;
  assert.deepEqual(saved.sensitivity, s);
  assert.ok(statSync(join(dir, 'findings-sensitivity.png')).size > 1000);
  const md = readFileSync(join(dir, 'sensitivity.md'), 'utf8');
  assert.match(md, /^\| change from the recipe \| seed \| SupCon test top-1 \|/);
  assert.match(md, /optimizer adam \(lr 0\.001, Adam's own\)/);
  assert.match(md, /\| loss \(linear probe\) \| runs \| test top-1 min–max \(range\)/);
  // The rerun trains nothing; a new change trains only its own run.
  assert.equal(study(...args).trainedNow, 0);
  rmSync(out, { recursive: true });
});
