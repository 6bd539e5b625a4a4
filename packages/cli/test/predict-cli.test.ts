/**
 * After `train`: `linear` shows progress and keeps its probe (probe.json in the run folder),
 * `predict` labels new images with the encoder and that probe, and `embed --images` embeds a folder of
 * new images. Tiny folder datasets written here (dark vs light squares), an MLP, seconds per command.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
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
import { cli, readJson } from './helpers.js';

const CLASSES = ['dark', 'light'];

/** A 12×12 RGB square near black or near white, varied a little per image. */
function square(light: number, i: number, size = 12, channels: 1 | 3 = 3): Uint8Array {
  return new Uint8Array(size * size * channels).map((_, k) => (light ? 190 : 30) + ((i * 11 + k * 7) % 40));
}

function writeClassFolders(root: string, perClass: number, offset: number): void {
  for (const [c, name] of CLASSES.entries()) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++)
      writeFileSync(
        join(root, name, `${String(i).padStart(2, '0')}.png`),
        encodePng(square(c, i + offset), 12, 12, 3),
      );
  }
}

/** One line on stderr (a warning that the native engine is unavailable may precede it). */
function oneSentence(stderr: string): string {
  const lines = stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('supcon: warning:'));
  assert.equal(lines.length, 1, `one line: ${stderr}`);
  assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace');
  return lines[0]!;
}

const train = (out: string, data: string, seed: number) =>
  cli(
    'train',
    '--dataset',
    `folder:${data}`,
    '--size',
    '12',
    '--encoder',
    'mlp',
    '--validation',
    '8',
    '--batch-size',
    '8',
    '--epochs',
    '1',
    '--augment',
    'none',
    '--knn-k',
    '0',
    '--seed',
    String(seed),
    '--out',
    out,
    '--quiet',
  );

describe('linear keeps its probe; predict and embed --images use the run on new images', () => {
  let dir: string;
  let data: string;
  let run: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'supcon-predict-'));
    data = join(dir, 'squares');
    writeClassFolders(join(data, 'train'), 16, 0);
    writeClassFolders(join(data, 'test'), 5, 100);
    run = join(dir, 'run');
    const r = train(run, data, 1);
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('predict before linear: one sentence saying to run `supcon linear --run R` first (exit 1)', () => {
    const r = cli('predict', '--run', run, join(data, 'test'));
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      oneSentence(r.stderr),
      /has no linear probe .*run `supcon linear --run .*run` to fit and keep it first\./,
    );
  });

  test('linear shows progress with the time left on stderr, none under --json, and keeps probe.json', () => {
    const shown = cli('linear', '--run', run, '--epochs', '10');
    assert.equal(shown.status, 0, shown.stderr);
    for (const stage of ['train features', 'validation features', 'probe', 'test features'])
      assert.match(
        shown.stderr,
        new RegExp(`linear: \\[[#.]{20}\\] ${stage} \\d+/\\d+ (images|epochs), left \\d+s`),
      );
    assert.match(shown.stderr, /probe 30\/30 epochs/, 'three weight decays × 10 epochs');
    assert.match(shown.stdout, /Probe kept in .*probe\.json\./);

    const quiet = cli('linear', '--run', run, '--epochs', '10', '--json');
    assert.equal(quiet.status, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /left|linear:/);
    const result = JSON.parse(quiet.stdout) as Record<string, unknown>;
    assert.equal(result['probeFile'], join(run, 'probe.json'));
    assert.deepEqual(
      readdirSync(run).filter((n) => n.includes('.tmp')),
      [],
      'no temporary file left',
    );

    const probe = readJson(join(run, 'probe.json')) as {
      format: string;
      classes: string[];
      input: { shape: number[]; mean: number[]; std: number[] };
      featureDim: number;
      featureNormalisation: { mean: number[]; std: number[] };
      weights: number[];
      bias: number[];
      settings: Record<string, unknown>;
      accuracy: Record<string, number>;
      encoder: { sha256: string; iteration: number };
    };
    assert.equal(probe.format, 'supcon-linear-probe');
    assert.deepEqual(probe.classes, CLASSES);
    assert.deepEqual(probe.input.shape, [12, 12, 3]);
    assert.equal(probe.input.mean.length, 3);
    assert.equal(probe.featureNormalisation.mean.length, probe.featureDim);
    assert.equal(probe.weights.length, probe.featureDim * 2);
    assert.equal(probe.bias.length, 2);
    assert.equal(probe.settings['epochs'], 10);
    assert.deepEqual(probe.settings['weightDecayCandidates'], [0, 1e-4, 1e-3]);
    assert.equal(probe.settings['weightDecay'], result['probeWeightDecay']);
    assert.equal(probe.accuracy['test'], result['testAccuracy']);
    assert.equal(probe.accuracy['validation'], result['validationAccuracy']);
    const sha = createHash('sha256')
      .update(readFileSync(join(run, 'checkpoint.bin')))
      .digest('hex');
    assert.equal(probe.encoder.sha256, sha, 'the checkpoint it was fitted on');
  });

  test('predict labels a folder of new images (--json, --top) and single files of another shape', () => {
    const fresh = join(dir, 'fresh');
    writeClassFolders(fresh, 4, 500);
    const r = cli('predict', '--run', run, fresh, '--json', '--top', '2');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      count: number;
      inputShape: number[];
      resized: number;
      predictions: {
        file: string;
        label: string;
        probability: number;
        top: { label: string; probability: number }[];
        resized: boolean;
      }[];
    };
    assert.equal(out.count, 8);
    assert.deepEqual(out.inputShape, [12, 12, 3]);
    assert.equal(out.resized, 0);
    let right = 0;
    for (const p of out.predictions) {
      assert.equal(p.top.length, 2);
      assert.equal(p.top[0]!.label, p.label);
      assert.ok(Math.abs(p.top[0]!.probability + p.top[1]!.probability - 1) < 1e-6, 'probabilities sum to 1');
      assert.ok(p.top[0]!.probability >= p.top[1]!.probability);
      if (p.file.includes(`${join(fresh, p.label)}/`)) right++;
    }
    assert.ok(right >= 7, `dark vs light: ${right}/8 right`);

    // A 20×20 grey image is resized and converted (and says so); --no-resize refuses it with the shape.
    const grey = join(dir, 'grey.png');
    writeFileSync(grey, encodePng(square(1, 3, 20, 1), 20, 20, 1));
    const text = cli('predict', '--run', run, grey);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /grey\.png {2}(dark|light) \d+\.\d%/);
    assert.match(text.stderr, /1 of 1 images resized to 12×12 and 1 converted to colour/);
    const refused = cli('predict', '--run', run, grey, '--no-resize');
    assert.equal(refused.status, 1, refused.stderr);
    assert.match(
      oneSentence(refused.stderr),
      /grey\.png` is 20×20, but the run's encoder takes 12×12 images \(12×12×3\)/,
    );

    const tooMany = cli('predict', '--run', run, grey, '--top', '3');
    assert.equal(tooMany.status, 2);
    assert.match(oneSentence(tooMany.stderr), /`--top`. Expected at most the run's 2 classes. Received: 3\./);
    const notImage = join(dir, 'notes.txt');
    writeFileSync(notImage, 'hello');
    const bad = cli('predict', '--run', run, notImage);
    assert.equal(bad.status, 1);
    assert.match(oneSentence(bad.stderr), /notes\.txt` is not a JPEG, PNG or WebP image/);
    const none = cli('predict', '--run', run);
    assert.equal(none.status, 2);
    assert.match(oneSentence(none.stderr), /at least one IMAGE or FOLDER/);
  });

  test('a probe fitted on other weights, or damaged, is refused with what to run', () => {
    const other = join(dir, 'other');
    const r = train(other, data, 2);
    assert.equal(r.status, 0, r.stderr);
    copyFileSync(join(run, 'probe.json'), join(other, 'probe.json'));
    const stale = cli('predict', '--run', other, join(data, 'test'));
    assert.equal(stale.status, 1, stale.stderr);
    assert.match(
      oneSentence(stale.stderr),
      /was fitted on the encoder at step \d+, but the checkpoint now holds step \d+ .*supcon linear --run/,
    );
    writeFileSync(join(other, 'probe.json'), '{"format": "supcon-linear-probe", "version": 1}');
    const damaged = cli('predict', '--run', other, join(data, 'test'));
    assert.equal(damaged.status, 1, damaged.stderr);
    assert.match(oneSentence(damaged.stderr), /probe .* is damaged \(input\.shape .*\): run `supcon linear/);
  });

  test('embed --images embeds a folder of new images exactly as the same images of a split', () => {
    const split = join(dir, 'split.json');
    const s = cli('embed', '--run', run, '--out', split);
    assert.equal(s.status, 0, s.stderr);
    const images = join(dir, 'new', 'images.json');
    const r = cli('embed', '--run', run, '--images', join(data, 'test'), '--out', images, '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      file: images,
      images: join(data, 'test'),
      count: 10,
      dim: readJson(split)['dim'] as number,
      resized: 0,
      converted: 0,
    });
    const doc = readJson(images);
    assert.equal((doc['files'] as string[])[0], join(data, 'test', 'dark', '00.png'));
    assert.deepEqual(doc['inputShape'], [12, 12, 3]);
    assert.deepEqual(doc['embeddings'], readJson(split)['embeddings'], 'same images, same features');

    const both = cli('embed', '--run', run, '--images', data, '--split', 'train', '--out', images);
    assert.equal(both.status, 2);
    assert.match(oneSentence(both.stderr), /`--images` and `--split` exclude each other/);
  });

  test('--help of linear, predict and embed says what they do, and `supcon --help` lists predict', () => {
    assert.match(cli('linear', '--help').stdout, /kept in DIR\/probe\.json/);
    assert.match(cli('predict', '--help').stdout, /--top K[\s\S]*--no-resize/);
    assert.match(cli('embed', '--help').stdout, /--images PATH/);
    assert.match(cli('--help').stdout, /predict/);
  });
});
