/**
 * Pretrained encoders: every shipped model loads and gives its card's numbers (features of the first
 * test images, kNN top-1 on the card's subset), and `supcon pretrained pack|list|info|check` work end
 * to end on a tiny run packed into a models folder of the test's own; bad input gets one sentence.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { checkPretrained, encodePng } from '@supcon/node';
import { listPretrained, loadPretrained, MODELS_DIR } from '@supcon/pretrained';
import { cli, hasFashion, readJson, tinyFashion, tinyRun } from './helpers.js';

const skip = !hasFashion && 'no Fashion-MNIST';
const data = hasFashion ? tinyFashion(640, 300) : '';
const work = mkdtempSync(join(tmpdir(), 'supcon-pretrained-'));
after(() => {
  if (data !== '') rmSync(data, { recursive: true });
  rmSync(work, { recursive: true, force: true });
});

function cleanError(r: ReturnType<typeof cli>, pattern: RegExp): void {
  assert.notEqual(r.status, 0, r.stdout);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --verbose');
}

test('the shipped index lists exactly the model folders, and every card parses', async () => {
  const index = JSON.parse(readFileSync(join(MODELS_DIR, 'index.json'), 'utf8')) as { models: string[] };
  const folders = readdirSync(MODELS_DIR, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  assert.deepEqual([...index.models].sort(), folders);
  const cards = await listPretrained();
  assert.deepEqual(
    cards.map((c) => c.name),
    index.models,
  );
  for (const c of cards) {
    assert.ok(c.linearProbe.test > 0.5 && c.linearProbe.test <= 1, `${c.name}: a plausible test accuracy`);
    assert.match(c.command, /^npx supcon train /, `${c.name}: the command that retrains it`);
  }
});

test('every shipped model reproduces its card: features of the first test images and kNN top-1 on the subset', {
  skip,
}, async () => {
  for (const card of await listPretrained()) {
    const result = await checkPretrained(card.name);
    assert.ok(
      result.featuresMaxAbsDiff < 1e-4,
      `${card.name}: features differ by ${result.featuresMaxAbsDiff}`,
    );
    assert.ok(
      Math.abs(result.knnTop1 - result.cardKnnTop1) <= 0.005,
      `${card.name}: kNN top-1 ${result.knnTop1} vs the card's ${result.cardKnnTop1}`,
    );
    // The subset's kNN top-1 and the full test set's are the same measurement on fewer images.
    assert.ok(Math.abs(result.knnTop1 - card.knn.test) < 0.05, `${card.name}: subset vs full test kNN`);
  }
});

test('supcon pretrained pack → list → info → check on a tiny run, in a models folder of its own', {
  skip,
}, async () => {
  const run = join(work, 'run');
  const models = join(work, 'models');
  const trained = cli('train', '--out', run, ...tinyRun(data), '--quiet', '--backend', 'cpu');
  assert.equal(trained.status, 0, trained.stderr);
  const probed = cli('linear', '--run', run, '--epochs', '2', '--quiet', '--backend', 'cpu');
  assert.equal(probed.status, 0, probed.stderr);

  const packed = cli(
    'pretrained',
    'pack',
    run,
    '--name',
    'tiny-mlp',
    '--description',
    'a test',
    '--models-dir',
    models,
    '--json',
  );
  assert.equal(packed.status, 0, packed.stderr);
  const card = JSON.parse(packed.stdout) as Record<string, unknown> & {
    check: { gallery: number; queries: number };
  };
  assert.equal(card['name'], 'tiny-mlp');
  assert.deepEqual(readdirSync(models).sort(), ['index.json', 'tiny-mlp'], 'no temp folder left behind');
  assert.deepEqual(readdirSync(join(models, 'tiny-mlp')).sort(), ['card.json', 'model.json', 'weights.bin']);
  assert.deepEqual(card.check.gallery, 640 - 0, 'the gallery is capped at the training file');
  assert.equal(card.check.queries, 300);
  const summary = readJson(join(run, 'summary.json'));
  assert.equal((card['linearProbe'] as { test: number }).test, summary['testAccuracy']);
  // The card holds retrieval metrics of the test split against the training file.
  const retrieval = card['retrieval'] as Record<string, number>;
  assert.ok(retrieval['recallAt1']! > 0.1 && retrieval['mapAtR']! > 0 && retrieval['mapAtR']! <= 1);
  assert.match(
    String(card['command']),
    /^npx supcon train --out runs\/tiny-mlp --dataset fashion-mnist:.* --encoder mlp .*&& npx supcon linear --run runs\/tiny-mlp$/,
  );
  assert.doesNotMatch(String(card['command']), /--quiet|--json/);

  const listed = cli('pretrained', 'list', '--models-dir', models, '--json');
  assert.equal(listed.status, 0, listed.stderr);
  assert.deepEqual(
    (JSON.parse(listed.stdout) as { models: { name: string }[] }).models.map((m) => m.name),
    ['tiny-mlp'],
  );
  const info = cli('pretrained', 'info', 'tiny-mlp', '--models-dir', models);
  assert.equal(info.status, 0, info.stderr);
  assert.match(info.stdout, /reproduce: npx supcon train/);

  const checked = cli(
    'pretrained',
    'check',
    'tiny-mlp',
    '--models-dir',
    models,
    '--json',
    '--backend',
    'cpu',
  );
  assert.equal(checked.status, 0, checked.stderr);
  const result = JSON.parse(checked.stdout) as { ok: boolean; knnTop1: number; cardKnnTop1: number };
  assert.equal(result.ok, true);
  assert.equal(result.knnTop1, result.cardKnnTop1);

  // Loading gives the card's features for the first test images (the values it stores).
  const encoder = await loadPretrained('tiny-mlp', { modelsDir: models });
  const stored = (card['check'] as unknown as { features: { count: number; values: number[] } }).features;
  const first = readFileSync(join(data, 't10k-images-idx3-ubyte')).subarray(16, 16 + stored.count * 784);
  const features = encoder.embed(first, stored.count);
  encoder.dispose();
  assert.equal(features.length, stored.values.length);
  for (let i = 0; i < features.length; i++) assert.ok(Math.abs(features[i]! - stored.values[i]!) < 1e-4);

  // A changed weight is caught by the check (exit code 1), so the check can fail.
  const weights = join(models, 'tiny-mlp', 'weights.bin');
  const bytes = readFileSync(weights);
  new Float32Array(bytes.buffer, bytes.byteOffset, 64).fill(3);
  writeFileSync(weights, bytes);
  const broken = cli('pretrained', 'check', 'tiny-mlp', '--models-dir', models, '--json', '--backend', 'cpu');
  assert.equal(broken.status, 1, broken.stderr);
  assert.equal((JSON.parse(broken.stdout) as { ok: boolean }).ok, false);
});

test('supcon pretrained: one-sentence errors', { skip }, () => {
  cleanError(
    cli('pretrained', 'info', 'no-such-model'),
    /Unknown pretrained model `no-such-model`\. Expected one of:/,
  );
  cleanError(cli('pretrained', 'info'), /Expected one model NAME/);
  cleanError(cli('pretrained', 'pack', work, '--description', 'x'), /`--name NAME` is required/);
  cleanError(
    cli('pretrained', 'pack', work, '--name', 'Bad Name', '--description', 'x'),
    /name.*lower-case letters/,
  );
  cleanError(
    cli('pretrained', 'pack', join(work, 'missing'), '--name', 'x', '--description', 'x'),
    /run.*a run folder with summary\.json/,
  );
  const models = join(work, 'broken-models');
  rmSync(models, { recursive: true, force: true });
  cleanError(
    cli('pretrained', 'list', '--models-dir', models),
    /Could not read the models folder's index\.json/,
  );
  assert.equal(existsSync(models), false, 'reading creates nothing');
});

test('a shipped model indexes and searches: supcon index/search --pretrained find a test image first', {
  skip,
}, async () => {
  const [first] = await listPretrained();
  assert.ok(first, 'at least one model is shipped');
  const indexFile = join(work, 'pretrained.index');
  const built = cli('index', '--pretrained', first.name, '--split', 'test', '--out', indexFile, '--json');
  assert.equal(built.status, 0, built.stderr);
  const index = JSON.parse(built.stdout) as { items: number; pretrained: string };
  assert.deepEqual([index.items, index.pretrained], [10000, first.name]);
  // Test image 7 of Debian's Fashion-MNIST, written as a PNG.
  const all = gunzipSync(readFileSync('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz'));
  const image = join(work, 'test-7.png');
  writeFileSync(image, encodePng(all.subarray(16 + 7 * 784, 16 + 8 * 784), 28, 28, 1));
  const r = cli('search', indexFile, '--image', image, '--k', '3', '--json');
  assert.equal(r.status, 0, r.stderr);
  const hit = (JSON.parse(r.stdout) as { hits: { id: string; score: number }[] }).hits[0]!;
  assert.equal(hit.id, 'test/7');
  assert.ok(Math.abs(hit.score - 1) < 1e-5, `self-similarity ${hit.score}`);
  cleanError(
    cli('eval', '--retrieval', '--pretrained', first.name, '--run', work),
    /`--run` and `--pretrained` exclude each other/,
  );
});
