/**
 * Results are never recorded wrong without a word (issue 15): a sweep refuses to reuse a run trained
 * with other settings and checks every value first; a robustness baseline measured differently is
 * refused; every level of a config file is checked and the stored config is what trained; kNN numbers
 * carry their k and bank; a train that cannot start leaves no run folder. Tiny MLP runs on a
 * Fashion-MNIST slice and a generated image folder.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { encodePng } from '@supcon/node';
import { cli, hasFashion, readJson, tinyTrain } from './helpers.js';

const noFashion = !hasFashion && 'no Fashion-MNIST';
const tiny = tinyTrain(512, 256);

function refused(r: ReturnType<typeof cli>, pattern: RegExp): void {
  assert.notEqual(r.status, 0, `expected a refusal, got exit 0: ${r.stdout.slice(-300)}`);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --verbose');
}

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'supcon-recorded-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('sweep', () => {
  test('every swept value is checked before the first run trains', () => {
    const out = join(dir, 'tau0');
    refused(
      cli('sweep', '--vary', 'temperature=0.1,0', '--out', out, '--quiet', '--', ...tiny),
      /Run `.*temperature=0` cannot start, so nothing was trained: .*`temperature`.*> 0.*Received: temperature=0/,
    );
    assert.equal(existsSync(join(out, 'temperature=0.1')), false, 'nothing was trained');
    refused(
      cli('sweep', '--vary', 'lr=0.1,fast', '--out', out, '--quiet', '--', ...tiny),
      /lr=fast` cannot start.*`--lr`.*a number.*Received: fast/,
    );
    assert.equal(existsSync(join(out, 'lr=0.1')), false);
  });

  test('a run folder trained with other settings is refused, or retrained with --rerun-stale', {
    skip: noFashion,
  }, () => {
    const out = join(dir, 'stale');
    const sweep = (epochs: string, ...own: string[]) =>
      cli('sweep', '--vary', 'seed=1', '--out', out, '--json', ...own, '--', ...tiny, '--epochs', epochs);
    const first = sweep('1', '--probe-epochs', '1');
    assert.equal(first.status, 0, first.stderr);
    const run = join(out, 'seed=1');
    assert.equal(readJson(join(run, 'summary.json'))['probeEpochs'], 1);

    const stale = sweep('2', '--probe-epochs', '1');
    refused(
      stale,
      /Run folder `.*seed=1` was trained with other settings .*train\.epochs: 1 recorded, requested 2.*--rerun-stale/,
    );
    // Nothing was rewritten: the runs and sweep.json still say one epoch.
    assert.equal((readJson(join(run, 'config.json'))['train'] as { epochs: number }).epochs, 1);
    assert.ok(((readJson(join(out, 'sweep.json'))['trainFlags'] as string[]).at(-1) ?? '') === '1');

    // The same train flags with other probe epochs: the run is probed again, not retrained.
    const checkpoint = join(run, 'checkpoint.bin');
    const trainedAt = statSync(checkpoint).mtimeMs;
    const reprobed = sweep('1', '--probe-epochs', '2');
    assert.equal(reprobed.status, 0, reprobed.stderr);
    assert.equal(statSync(checkpoint).mtimeMs, trainedAt);
    assert.equal(readJson(join(run, 'summary.json'))['probeEpochs'], 2);

    const rerun = sweep('2', '--probe-epochs', '1', '--rerun-stale');
    assert.equal(rerun.status, 0, rerun.stderr);
    assert.equal((readJson(join(run, 'config.json'))['train'] as { epochs: number }).epochs, 2);
    const runs = (JSON.parse(rerun.stdout) as { runs: { testAccuracy: number }[] }).runs;
    assert.ok(runs[0]!.testAccuracy > 0.1);
  });
});

describe('config files and the stored config', () => {
  test('an unknown key at any level is refused with its dotted path, and no run folder is left', () => {
    const config = join(dir, 'config.json');
    const cases: [unknown, RegExp][] = [
      [
        { model: { encodr: 'mlp' } },
        /`model\.encodr`. Expected no such key: `model` has only the keys encoder/,
      ],
      [{ train: { epochz: 3 } }, /`train\.epochz`. Expected no such key/],
      [{ data: { foo: 1 } }, /`data\.foo`. Expected no such key/],
      [{ train: { optimizer: { momentun: 0.9 } } }, /`train\.optimizer\.momentun`. Expected no such key/],
      [
        { model: { hidden: '512' } },
        /`model\.hidden`. Expected an array of numbers. Received: model\.hidden="512"/,
      ],
      [
        { data: { size: 24, grayscale: true } },
        /`data\.size`. Expected no value for dataset "fashion-mnist"/,
      ],
    ];
    for (const [body, pattern] of cases) {
      writeFileSync(config, JSON.stringify(body));
      const out = join(dir, 'typo-run');
      refused(cli('train', '--config', config, '--out', out, '--quiet', ...tiny), pattern);
      assert.equal(existsSync(out), false, `${JSON.stringify(body)} left a run folder`);
    }
  });

  test('data.size and data.grayscale of a folder dataset are what trains, and are stored', async () => {
    const images = join(dir, 'shapes');
    for (const [c, name] of ['dark', 'light'].entries()) {
      mkdirSync(join(images, name), { recursive: true });
      for (let i = 0; i < 12; i++) {
        const pixels = new Uint8Array(20 * 20 * 3).map((_, k) => (c ? 200 : 40) + ((i * 7 + k) % 30));
        writeFileSync(join(images, name, `${i}.png`), encodePng(pixels, 20, 20, 3));
      }
    }
    const config = join(dir, 'folder.json');
    writeFileSync(
      config,
      JSON.stringify({ data: { dataset: `folder:${images}`, size: 12, grayscale: true } }),
    );
    const run = join(dir, 'folder-run');
    const common = ['--encoder', 'mlp', '--validation', '4', '--batch-size', '8', '--epochs', '1', '--quiet'];
    const r = cli('train', '--config', config, '--out', run, ...common);
    assert.equal(r.status, 0, r.stderr);
    const data = readJson(join(run, 'config.json'))['data'] as Record<string, unknown>;
    assert.equal(data['size'], 12);
    assert.equal(data['grayscale'], true);
    const model = readJson(join(run, 'encoder', 'model.json')) as {
      userDefinedMetadata: { supcon: { inputShape: number[] } };
    };
    assert.deepEqual(model.userDefinedMetadata.supcon.inputShape, [12, 12, 1]);

    // Without them, the defaults that train (32×32, RGB) are written out.
    const plain = join(dir, 'folder-plain');
    const p = cli('train', '--dataset', `folder:${images}`, '--out', plain, ...common);
    assert.equal(p.status, 0, p.stderr);
    const stored = readJson(join(plain, 'config.json'))['data'] as Record<string, unknown>;
    assert.deepEqual([stored['size'], stored['grayscale']], [32, false]);
  });

  test('a train that cannot load its data leaves no run folder', () => {
    for (const dataset of ['folderr:x', `folder:${join(dir, 'missing')}`, 'fashion-mnist:']) {
      const out = join(dir, 'failed-run');
      refused(cli('train', '--dataset', dataset, '--out', out, '--quiet', ...tiny), /dataset/i);
      assert.equal(existsSync(out), false, `${dataset} left ${out}`);
    }
    // Data-parallel: the workers load the data; the coordinator removes the folder it created.
    const out = join(dir, 'failed-dp');
    refused(
      cli('train', '--processes', '2', '--dataset', 'folderr:x', '--out', out, '--quiet', ...tiny),
      /dataset/,
    );
    assert.equal(existsSync(out), false, `--processes 2 left ${out}`);
  });
});

describe('robustness baselines and kNN settings', { skip: noFashion }, () => {
  const runs = { supcon: '', ce: '' };
  before(() => {
    for (const method of ['supcon', 'ce'] as const) {
      runs[method] = join(dir, `robust-${method}`);
      const r = cli('train', '--out', runs[method], '--method', method, '--quiet', ...tiny);
      assert.equal(r.status, 0, r.stderr);
    }
  });
  const robustness = (run: string, ...args: string[]) =>
    cli('robustness', '--run', run, '--epochs', '1', '--quiet', '--json', ...args);

  test('a baseline measured on other images, severities or corruptions is refused', () => {
    const measure = ['--limit', '200', '--corruptions', 'contrast,jpeg', '--severities', '1,5'];
    const base = robustness(runs.ce, ...measure);
    assert.equal(base.status, 0, base.stderr);
    const withBaseline = (...args: string[]) => robustness(runs.supcon, '--baseline', runs.ce, ...args);
    const other = (flag: string, value: string) => {
      const args = [...measure];
      args[args.indexOf(flag) + 1] = value;
      return withBaseline(...args);
    };
    refused(other('--limit', '100'), /`--baseline`.*100 test images here, 200 in the baseline/);
    refused(other('--severities', '1,2'), /`--baseline`.*severities 1,2 here, 1,5 in the baseline/);
    refused(other('--corruptions', 'contrast,gaussian-blur'), /gaussian-blur missing from the baseline/);
    refused(withBaseline(...measure, '--seed', '3'), /noise seed 3 here, 0 in the baseline/);

    // Fewer corruptions than the baseline: compared on those, and the output says which were left out.
    const r = other('--corruptions', 'contrast');
    assert.equal(r.status, 0, r.stderr);
    const relative = (JSON.parse(r.stdout) as { relative: Record<string, unknown> }).relative;
    assert.ok(Number.isFinite(relative['mCE']), JSON.stringify(relative));
    assert.deepEqual(relative['corruptions'], ['contrast']);
    assert.deepEqual(relative['baselineOnly'], ['jpeg']);
    const summary = readJson(join(runs.supcon, 'summary.json'));
    assert.equal(summary['mCE'], relative['mCE']);
    assert.deepEqual(summary['robustness'], {
      testImages: 200,
      corruptions: ['contrast'],
      severities: [1, 5],
      seed: 0,
    });
    // Measured again without a baseline: the earlier mCE does not linger beside the new numbers.
    const alone = robustness(runs.supcon, ...measure);
    assert.equal(alone.status, 0, alone.stderr);
    assert.equal(readJson(join(runs.supcon, 'summary.json'))['mCE'], undefined);
  });

  test('kNN numbers are stored once, camelCase, with the k and bank that produced them', () => {
    const run = runs.supcon;
    const linear = cli('linear', '--run', run, '--epochs', '1', '--json');
    assert.equal(linear.status, 0, linear.stderr);
    let summary = readJson(join(run, 'summary.json'));
    const knn = summary['knn'] as Record<string, unknown>;
    assert.deepEqual([knn['k'], knn['bank'], knn['temperature']], [200, 512, 0.1]);
    assert.equal((knn['test'] as { images: number }).images, 10000);
    assert.equal(summary['probeEpochs'], 1);

    refused(
      cli('eval', '--run', run, '--k', '20', '--bank', '10'),
      /`--k`. Expected at most the bank size \(--bank 10\). Received: 20/,
    );
    refused(
      cli('eval', '--run', run, '--k', '600'),
      /`--k`. Expected at most the bank size \(512: .* has 512 samples\). Received: 600/,
    );

    const ev = cli('eval', '--run', run, '--k', '5', '--bank', '50', '--json');
    assert.equal(ev.status, 0, ev.stderr);
    summary = readJson(join(run, 'summary.json'));
    const measured = summary['knn'] as {
      k: number;
      bank: number;
      validation: unknown;
      test: { top1: number };
    };
    assert.deepEqual([measured.k, measured.bank], [5, 50]);
    assert.ok(measured.validation !== undefined && measured.test.top1 > 0.1);
    assert.deepEqual((JSON.parse(ev.stdout) as { knn: unknown }).knn, measured);
    for (const key of Object.keys(summary)) assert.doesNotMatch(key, /_|^knnTestAccuracy$/, `key ${key}`);
    assert.equal(typeof summary['testAccuracy'], 'number', 'the probe result is kept');
  });
});
