/**
 * Export to the TensorFlow.js layers format: for every encoder the CLI builds, and every head, the
 * model loaded back from model.json + weights.bin (as a browser would) predicts what our own
 * forward computes in inference mode, within 1e-4 relative; a run folder exports from its
 * checkpoint; the export folder is replaced atomically and never clobbers foreign files.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  buildEncoder,
  buildHead,
  type ExportData,
  exportLayersModel,
  exportMetadata,
  exportRun,
  type LegacyModelSpec,
  loadExportedModel,
  loadRunEncoder,
  modelForMethod,
  patchModel,
  presetSpec,
  type RunSpec,
  trainRun,
} from '@supcon/node';
import * as tf from '@tensorflow/tfjs-core';
import { Random } from 'supcon';
import { quadrantDataset, tinySpec } from './train-fixture.js';

/** Every variable gets random values (BatchNorm: positive variances) so no layer is an identity. */
function randomise(vars: { name: string; variable: tf.Variable }[], seed: number): void {
  const r = new Random(seed);
  for (const { name, variable } of vars) {
    const values = Float32Array.from({ length: variable.size }, () => r.next());
    const scale = name.endsWith('running_var') || name.endsWith('gamma') ? 1 : 0.4;
    const offset = name.endsWith('running_var') || name.endsWith('gamma') ? 0.5 : -0.2;
    variable.assign(
      tf.tensor(
        values.map((v) => offset + scale * v),
        variable.shape,
      ),
    );
  }
}

function maxRelativeError(ours: tf.Tensor, theirs: tf.Tensor): number {
  return tf.tidy(() => {
    const scale = tf.maximum(tf.max(tf.abs(ours)), 1e-6);
    return tf.div(tf.max(tf.abs(tf.sub(ours, theirs))), scale).dataSync()[0]!;
  });
}

/** The preset with the model's flat keys (as the CLI's model flags set them) and the method's head. */
function specFor(model: Partial<LegacyModelSpec>, method: RunSpec['train']['method'] = 'supcon'): RunSpec {
  const spec = presetSpec('fashion-quick');
  spec.model = modelForMethod(patchModel(spec.model, model), method);
  spec.train = { ...spec.train, method };
  return spec;
}

const data = (h: number, channels: number): ExportData => ({
  dataset: {
    name: 'mnist',
    classes: ['a', 'b', 'c'],
    mean: Array(channels).fill(0.5),
    std: Array(channels).fill(0.25),
  },
  train: { height: h, width: h, channels },
});

const CASES: { label: string; model: Partial<LegacyModelSpec>; size: number; channels: number }[] = [
  { label: 'mlp', model: { encoder: 'mlp', hidden: [24, 16] }, size: 6, channels: 1 },
  {
    label: 'small-resnet',
    model: { encoder: 'small-resnet', width: 4, blocksPerStage: 2, stemStride: 2 },
    size: 12,
    channels: 1,
  },
  { label: 'resnet18 cifar', model: { encoder: 'resnet18', widthMultiplier: 0.125 }, size: 8, channels: 3 },
  {
    label: 'resnet34 imagenet',
    model: { encoder: 'resnet34', stem: 'imagenet', widthMultiplier: 0.0625 },
    size: 16,
    channels: 3,
  },
  { label: 'resnet50 cifar', model: { encoder: 'resnet50', widthMultiplier: 0.0625 }, size: 8, channels: 3 },
  {
    label: 'resnet50 imagenet',
    model: { encoder: 'resnet50', stem: 'imagenet', widthMultiplier: 0.0625 },
    size: 16,
    channels: 3,
  },
];

test('every encoder and head: the loaded layers model predicts our inference-mode forward', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-export-'));
  const heads: { label: string; model: Partial<LegacyModelSpec>; method: RunSpec['train']['method'] }[] = [
    { label: 'encoder only', model: {}, method: 'supcon' },
    { label: 'mlp head', model: {}, method: 'supcon' },
    {
      label: 'linear head on normalised features',
      model: { projection: 'linear', normalizeEncoderOutput: true },
      method: 'simclr',
    },
    { label: 'ce classifier', model: {}, method: 'ce' },
  ];
  let seed = 1;
  for (const c of CASES) {
    for (const [h, headCase] of heads.entries()) {
      const spec = specFor({ ...c.model, ...headCase.model }, headCase.method);
      const encoder = buildEncoder(spec.model, [c.size, c.size, c.channels], seed);
      const head = buildHead(spec, encoder.outputDim, 3);
      randomise([...encoder.variables(), ...head.variables()], seed++);
      const out = join(dir, `m${seed}`);
      const withHead = h > 0;
      const result = await exportLayersModel(out, {
        spec,
        encoder,
        ...(withHead ? { head } : {}),
        data: data(c.size, c.channels),
      });
      assert.deepEqual(readdirSync(out).sort(), ['model.json', 'weights.bin']);
      const model = await loadExportedModel(out);
      const x = tf.randomNormal([3, c.size, c.size, c.channels], 0, 1, 'float32', seed);
      const ours = tf.tidy(() =>
        withHead ? head.apply(encoder.apply(x, false), false) : encoder.apply(x, false),
      );
      const theirs = model.predict(x) as tf.Tensor;
      const what = `${c.label}, ${headCase.label}`;
      assert.deepEqual(theirs.shape, ours.shape, what);
      assert.ok(
        maxRelativeError(ours, theirs) < 1e-4,
        `${what}: relative error ${maxRelativeError(ours, theirs)}`,
      );
      assert.equal(result.outputDim, ours.shape[1]);
      const meta = exportMetadata(model)!;
      assert.equal(meta.output, withHead ? (headCase.method === 'ce' ? 'logits' : 'embeddings') : 'features');
      assert.deepEqual(meta.inputShape, [c.size, c.size, c.channels]);
      assert.deepEqual(meta.classes, ['a', 'b', 'c']);
      // Only stock layers: every class name is one tfjs-layers registers itself.
      const topology = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).modelTopology;
      const kinds = new Set<string>(topology.config.layers.map((l: { class_name: string }) => l.class_name));
      for (const k of kinds)
        assert.ok(
          [
            'InputLayer',
            'Conv2D',
            'BatchNormalization',
            'Activation',
            'Add',
            'MaxPooling2D',
            'GlobalAveragePooling2D',
            'Flatten',
            'Dense',
            'Rescaling',
            'Concatenate',
            'LayerNormalization',
            'Reshape',
            'Cropping2D',
          ].includes(k),
          `${what}: unexpected layer ${k}`,
        );
      tf.dispose([
        x,
        ours,
        theirs,
        ...encoder.variables().map((p) => p.variable),
        ...head.variables().map((p) => p.variable),
      ]);
      model.dispose();
    }
  }
  rmSync(dir, { recursive: true });
});

test('a run folder and its checkpoint export; the head embeddings have unit rows', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-export-run-'));
  const run = join(dir, 'run');
  const dataset = quadrantDataset();
  const spec = tinySpec(1);
  const { trainer } = await trainRun(spec, run, { dataset });
  trainer.dispose();
  const out = join(dir, 'export');
  const result = await exportRun(run, out, { dataset, withHead: true });
  assert.equal(result.output, 'embeddings');
  assert.equal(result.outputDim, spec.model.head.kind === 'projection' ? spec.model.head.outputDim : -1);
  const model = await loadExportedModel(out);
  const x = tf.randomNormal([5, 8, 8, 1], 0, 1, 'float32', 7);
  const z = model.predict(x) as tf.Tensor2D;
  const norms = tf.norm(z, 'euclidean', 1).dataSync();
  for (const n of norms) assert.ok(Math.abs(n - 1) < 1e-5, `unit rows, got ${n}`);
  // Encoder only, from the checkpoint file itself: equals the run's encoder loaded by evaluation.
  const encOut = join(dir, 'encoder');
  await exportRun(join(run, 'checkpoint.bin'), encOut, { dataset });
  const loaded = await loadExportedModel(encOut);
  const { encoder } = await loadRunEncoder(run, dataset);
  const ours = encoder.apply(x, false);
  assert.ok(maxRelativeError(ours, loaded.predict(x) as tf.Tensor) < 1e-4);
  const meta = exportMetadata(loaded)!;
  assert.deepEqual(meta.preprocessing, { scale: 1 / 255, mean: [0.5], std: [0.25] });
  assert.equal(meta.method, 'supcon');
  model.dispose();
  loaded.dispose();
  tf.dispose([x, z, ours, ...encoder.variables().map((p) => p.variable)]);
  // Re-exporting replaces the folder; a folder with other files is refused, untouched.
  await exportRun(run, out, { dataset });
  assert.equal(exportMetadata(await loadExportedModel(out))!.output, 'features');
  const foreign = join(dir, 'foreign');
  mkdirSync(foreign);
  writeFileSync(join(foreign, 'notes.txt'), 'keep me');
  await assert.rejects(exportRun(run, foreign, { dataset }), /argument `out`.*earlier export.*notes\.txt/);
  assert.equal(readFileSync(join(foreign, 'notes.txt'), 'utf8'), 'keep me');
  await assert.rejects(exportRun(join(dir, 'missing'), out, { dataset }), /argument `source`/);
  assert.ok(!readdirSync(dir).some((f) => f.includes('.tmp-')), 'no temp folder left behind');
  assert.ok(existsSync(join(out, 'weights.bin')));
  rmSync(dir, { recursive: true });
});

test('run specs: resnet18/34/50 build with stem and widthMultiplier; bad values are clear errors', () => {
  const build = (model: Partial<LegacyModelSpec>) => buildEncoder(specFor(model).model, [8, 8, 3], 0);
  const enc = build({ encoder: 'resnet50', stem: 'imagenet', widthMultiplier: 0.0625 });
  assert.equal(enc.outputDim, 128);
  assert.ok(enc.parameters().some((p) => p.name === 'layer4.2/conv3/kernel'));
  tf.dispose(enc.variables().map((p) => p.variable));
  assert.throws(
    () => build({ encoder: 'resnet34', stem: 'big' as 'cifar' }),
    /argument `model.stem`.*"cifar" or "imagenet".*"big"/,
  );
  assert.throws(
    () => build({ encoder: 'resnet18', widthMultiplier: 0.01 }),
    /argument `model.widthMultiplier`.*whole number.*0.01/,
  );
  assert.throws(
    () => build({ encoder: 'resnet101' as 'resnet50' }),
    /argument `model.encoder`.*resnet50.*"resnet101"/,
  );
});
