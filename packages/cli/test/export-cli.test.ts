/**
 * `supcon export` end to end: a short run on a tiny image-folder dataset, exported with and without
 * its head (--json), loaded back as the browser would; and clean one-sentence errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { encodePng, exportMetadata, loadExportedModel, presetSpec, trainRun } from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';
import { resolveConfig } from 'supcon';

const bin = fileURLToPath(new URL('../../bin/supcon.js', import.meta.url));
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args, '--backend', 'cpu'], { encoding: 'utf8' });

function assertCleanError(r: ReturnType<typeof cli>, pattern: RegExp): void {
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --verbose');
}

/** Three class folders of 32×32 RGB PNGs, each class a different colour plus noise. */
function writeFolderDataset(dir: string): void {
  for (const [c, name] of ['cat', 'dog', 'owl'].entries()) {
    mkdirSync(join(dir, name), { recursive: true });
    for (let i = 0; i < 8; i++) {
      const px = new Uint8Array(32 * 32 * 3).map(
        (_, k) => (k % 3 === c ? 200 : 40) + ((k * 31 + i * 17) % 50),
      );
      writeFileSync(join(dir, name, `${i}.png`), encodePng(px, 32, 32, 3));
    }
  }
}

test('supcon export: a run folder → model.json + weights.bin with metadata, with and without head', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-export-cli-'));
  const images = join(dir, 'images');
  writeFolderDataset(images);
  const spec = presetSpec('fashion-quick');
  spec.train = resolveConfig({ method: 'supcon', epochs: 1, batchSize: 8, lr: 0.05, seed: 2 });
  spec.model = {
    encoder: { kind: 'mlp', hidden: [16, 8] },
    head: { kind: 'projection', projection: 'mlp', outputDim: 4, normalizeInput: false },
  };
  spec.data = { dataset: `folder:${images}`, validation: 4, limit: 0, augment: 'none' };
  const run = join(dir, 'run');
  (await trainRun(spec, run)).trainer.dispose();

  const out = join(dir, 'export');
  const r = cli('export', run, '--out', out, '--with-head', '--json');
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as {
    output: string;
    outputDim: number;
    parameters: number;
    files: string[];
  };
  assert.equal(summary.output, 'embeddings');
  assert.equal(summary.outputDim, 4);
  // mlp encoder 3072·16 + 16·8 (no biases) + BatchNorm γ, β (2·(16 + 8)); head 8·8 + 8 + 8·4 + 4.
  assert.equal(summary.parameters, 3072 * 16 + 16 * 8 + 2 * 24 + (8 * 8 + 8 + 8 * 4 + 4));
  assert.deepEqual(readdirSync(out).sort(), ['model.json', 'weights.bin']);
  const model = await loadExportedModel(out);
  const meta = exportMetadata(model)!;
  assert.deepEqual(meta.classes, ['cat', 'dog', 'owl']);
  assert.deepEqual(meta.inputShape, [32, 32, 3]);
  assert.equal(meta.preprocessing.mean.length, 3);
  const z = model.predict(tf.zeros([1, 32, 32, 3])) as tf.Tensor;
  assert.deepEqual(z.shape, [1, 4]);

  const plain = cli('export', join(run, 'checkpoint.bin'), '--out', out);
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stdout, /Exported features \[8\]/);

  assertCleanError(cli('export', '--out', out), /Expected one RUN_DIR_OR_CHECKPOINT argument/);
  assertCleanError(cli('export', run), /`--out DIR` is required/);
  assertCleanError(cli('export', join(dir, 'nope'), '--out', out), /argument `source`.*nope/);
  assertCleanError(cli('export', run, '--out', images), /argument `out`.*earlier export/);
  rmSync(dir, { recursive: true });
});
