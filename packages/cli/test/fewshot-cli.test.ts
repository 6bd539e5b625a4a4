/**
 * `supcon fewshot` end to end on a tiny run: the curve equals the core's few-shot episodes on the
 * embeddings `supcon embed` writes (an independent path to the same features), the figure is a PNG,
 * support/query folders classify images, and bad input gets one sentence.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { encodePng, writeFileAtomic } from '@supcon/node';
import { type FeatureSet, fewShotEpisodes } from 'supcon';
import { cli, hasFashion, tinyFashion, tinyRun } from './helpers.js';

const skip = !hasFashion && 'no Fashion-MNIST';
const data = hasFashion ? tinyFashion(640, 300) : '';
const work = mkdtempSync(join(tmpdir(), 'supcon-fewshot-'));
const run = join(work, 'run');
after(() => {
  if (data !== '') rmSync(data, { recursive: true });
  rmSync(work, { recursive: true, force: true });
});
before(() => {
  if (!hasFashion) return;
  const trained = cli('train', '--out', run, ...tinyRun(data), '--quiet');
  assert.equal(trained.status, 0, trained.stderr);
});

function cleanError(r: ReturnType<typeof cli>, pattern: RegExp): void {
  assert.equal(r.status, 2, r.stdout + r.stderr);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --verbose');
}

function embedded(split: string): FeatureSet {
  const file = join(work, `${split}.json`);
  const r = cli('embed', '--run', run, '--split', split, '--out', file, '--json');
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(readFileSync(file, 'utf8')) as {
    labels: number[];
    embeddings: number[][];
    dim: number;
  };
  return {
    features: Float32Array.from(doc.embeddings.flat()),
    labels: Int32Array.from(doc.labels),
    count: doc.labels.length,
    dim: doc.dim,
  };
}

test('supcon fewshot: the curve equals few-shot episodes on the embeddings supcon embed writes', {
  skip,
}, () => {
  const plot = join(work, 'fig', 'fewshot.png');
  const r = cli('fewshot', '--run', run, '--shots', '5,1', '--episodes', '3', '--plot', plot, '--json');
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    shots: number[];
    curves: {
      method: string;
      queries: number;
      points: { shots: number; mean: number; std: number; accuracies: number[] }[];
    }[];
  };
  assert.deepEqual(out.shots, [1, 5], 'sorted');
  const curve = out.curves[0]!;
  assert.equal(curve.method, 'supcon');
  assert.equal(curve.queries, 300);
  const expected = fewShotEpisodes(embedded('train'), embedded('test'), {
    classes: 10,
    shots: [1, 5],
    episodes: 3,
    seed: 0,
  });
  for (const [i, p] of curve.points.entries()) {
    assert.equal(p.shots, expected[i]!.shots);
    for (const [e, a] of p.accuracies.entries())
      assert.ok(Math.abs(a - expected[i]!.accuracies[e]!) <= 1 / 300);
  }
  assert.ok(curve.points[1]!.mean > 0.3, `5-shot top-1 ${curve.points[1]!.mean} is above chance (0.1)`);
  assert.deepEqual([...readFileSync(plot).subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
});

test('supcon fewshot --support/--query: class folders classify images; a flat query folder is labelled', {
  skip,
}, () => {
  const images = readFileSync(join(data, 't10k-images-idx3-ubyte')).subarray(16);
  const labels = readFileSync(join(data, 't10k-labels-idx1-ubyte')).subarray(8);
  const names = ['tshirt', 'trouser'];
  const write = (dir: string, wanted: number, from: number, n: number) => {
    mkdirSync(dir, { recursive: true });
    let written = 0;
    for (let i = from; written < n; i++)
      if (labels[i] === wanted) {
        writeFileAtomic(join(dir, `${i}.png`), encodePng(images.subarray(i * 784, (i + 1) * 784), 28, 28, 1));
        written++;
      }
  };
  for (const [c, name] of names.entries()) {
    write(join(work, 'support', name), c, 0, 5);
    write(join(work, 'query', name), c, 150, 4);
    write(join(work, 'flat'), c, 150, 2);
  }
  const r = cli(
    'fewshot',
    '--run',
    run,
    '--support',
    join(work, 'support'),
    '--query',
    join(work, 'query'),
    '--json',
  );
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as {
    classes: string[];
    supportPerClass: Record<string, number>;
    accuracy: number;
    predictions: { predicted: string; label: string }[];
  };
  assert.deepEqual(out.classes, ['trouser', 'tshirt']);
  assert.deepEqual(out.supportPerClass, { trouser: 5, tshirt: 5 });
  assert.equal(out.predictions.length, 8);
  assert.equal(out.accuracy, out.predictions.filter((p) => p.predicted === p.label).length / 8);
  assert.ok(out.accuracy >= 0.75, `trousers vs T-shirts from 5 examples each: ${out.accuracy}`);
  const flat = cli(
    'fewshot',
    '--run',
    run,
    '--support',
    join(work, 'support'),
    '--query',
    join(work, 'flat'),
    '--json',
  );
  assert.equal(flat.status, 0, flat.stderr);
  const labelled = JSON.parse(flat.stdout) as { accuracy?: number; predictions: { label?: string }[] };
  assert.equal(labelled.accuracy, undefined);
  assert.equal(labelled.predictions.length, 4);
  assert.ok(labelled.predictions.every((p) => p.label === undefined));
});

test('supcon fewshot: one-sentence errors', { skip }, () => {
  cleanError(cli('fewshot'), /`--run DIR` or `--pretrained NAME` is required/);
  cleanError(cli('fewshot', '--run', run, '--shots', '1,x'), /`--shots`.*integers >= 1.*Received: 1,x/);
  cleanError(
    cli('fewshot', '--run', run, '--neighbours', '3'),
    /`--neighbours` applies only with `--classifier knn`/,
  );
  cleanError(
    cli('fewshot', '--run', run, '--support', work),
    /`--support FOLDER` and `--query FOLDER` go together/,
  );
  cleanError(
    cli('fewshot', '--run', `${run},${run}`, '--support', work, '--query', work),
    /give one encoder/,
  );
  cleanError(cli('fewshot', '--pretrained', 'no-such-model'), /Unknown pretrained model `no-such-model`/);
});
