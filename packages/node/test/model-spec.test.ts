/**
 * The run spec's `model = { encoder, head }` on the Node side: the flat format of older config
 * files and of the CLI's model flags maps onto it (spec-legacy.ts), partial config files merge by
 * kind, the schema checks the union's keys, the head follows the method, a change of kind is one
 * difference, and old ResNet checkpoints' head entries are renamed with their optimiser slots.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  checkSpecShape,
  mergeModel,
  patchModel,
  presetSpec,
  resolveRunSpec,
  specDifferences,
  upgradeCheckpointNames,
  upgradeModel,
  upgradeRunSpec,
} from '@supcon/node';
import { HEAD_DEFAULTS, type TrainerState } from 'supcon';

const FLAT = {
  width: 16,
  blocksPerStage: 2,
  stemStride: 2 as const,
  hidden: [32, 16],
  stem: 'imagenet' as const,
  widthMultiplier: 0.5,
  projection: 'linear' as const,
  projectionDim: 64,
  normalizeEncoderOutput: true,
};

test('the flat model of older config files upgrades to { encoder, head }, per encoder and method', () => {
  const head = { kind: 'projection', projection: 'linear', outputDim: 64, normalizeInput: true };
  assert.deepEqual(upgradeModel({ ...FLAT, encoder: 'small-resnet' }, 'supcon'), {
    encoder: { kind: 'small-resnet', baseChannels: 16, blocksPerStage: 2, stemStride: 2 },
    head,
  });
  assert.deepEqual(upgradeModel({ ...FLAT, encoder: 'mlp' }, 'simclr').encoder, {
    kind: 'mlp',
    hidden: [32, 16],
  });
  assert.deepEqual(upgradeModel({ ...FLAT, encoder: 'resnet50' }, 'supcon').encoder, {
    kind: 'resnet',
    depth: 50,
    stem: 'imagenet',
    widthMultiplier: 0.5,
  });
  // ce trains a classifier: the projection keys were never used.
  assert.deepEqual(upgradeModel({ ...FLAT, encoder: 'mlp' }, 'ce').head, { kind: 'classifier' });
  // A partial one (the dashboard's fixtures, hand-written files) gets each kind's defaults.
  assert.deepEqual(upgradeModel({ encoder: 'resnet18' }, 'supcon'), {
    encoder: { kind: 'resnet', depth: 18, stem: 'cifar', widthMultiplier: 1 },
    head: HEAD_DEFAULTS.projection,
  });
  const spec = presetSpec();
  const old = { ...spec, model: { ...FLAT, encoder: 'mlp' } };
  assert.deepEqual(upgradeRunSpec(old).model.encoder, { kind: 'mlp', hidden: [32, 16] });
  assert.deepEqual(resolveRunSpec(old as never).model, upgradeRunSpec(old).model);
  assert.equal(upgradeRunSpec(spec), spec, 'a current spec is returned as it is');
});

test('model flags: a new encoder starts from its defaults, the same one keeps its fields', () => {
  const preset = presetSpec().model; // small-resnet, 16 base channels, stem stride 2
  assert.deepEqual(patchModel(preset, { encoder: 'mlp' }).encoder, { kind: 'mlp', hidden: [512, 256] });
  assert.deepEqual(patchModel(preset, { width: 8 }).encoder, {
    kind: 'small-resnet',
    baseChannels: 8,
    blocksPerStage: 1,
    stemStride: 2,
  });
  // Keys of other kinds are ignored, as in the flat format.
  assert.deepEqual(patchModel(preset, { stem: 'imagenet' }), preset);
  assert.deepEqual(patchModel(preset, { projectionDim: 32 }).head, { ...preset.head, outputDim: 32 });
  assert.throws(
    () => patchModel(preset, { encoder: 'resnet18', widthMultiplier: 0.3 }),
    /argument `model\.widthMultiplier`.*whole number.*Received: model\.widthMultiplier=0\.3/,
  );
  assert.throws(
    () => patchModel(preset, { encoder: 'vgg' as 'mlp' }),
    /`model\.encoder`. Expected one of small-resnet/,
  );
});

test('a config file may give the model nested (by kind) or flat', () => {
  const preset = presetSpec().model;
  assert.deepEqual(mergeModel(preset, { encoder: { kind: 'resnet', depth: 50 } }).encoder, {
    kind: 'resnet',
    depth: 50,
    stem: 'cifar',
    widthMultiplier: 1,
  });
  assert.deepEqual(mergeModel(preset, { encoder: { blocksPerStage: 3 } }).encoder, {
    ...preset.encoder,
    blocksPerStage: 3,
  });
  assert.deepEqual(mergeModel(preset, { encoder: 'mlp', hidden: [64] }).encoder, {
    kind: 'mlp',
    hidden: [64],
  });
  checkSpecShape({ model: { encoder: { kind: 'resnet', depth: 50 } } }, { partial: true });
  checkSpecShape({ model: { encoder: { hidden: [64] } } }, { partial: true });
  const refuses = (value: unknown, pattern: RegExp, partial = true) =>
    assert.throws(() => checkSpecShape(value, { partial }), pattern);
  refuses(
    { model: { encoder: { kind: 'resnet', hidden: [64] } } },
    /`model\.encoder\.hidden`. Expected no such key: a resnet `model\.encoder` has only the keys kind, depth, stem, widthMultiplier/,
  );
  refuses(
    { model: { encoder: { kind: 'vgg' } } },
    /`model\.encoder\.kind`. Expected one of resnet, small-resnet, mlp/,
  );
  refuses({ model: { head: 'mlp' } }, /`model\.head`. Expected a JSON object with a `kind`/);
  const incomplete = presetSpec() as unknown as { model: { encoder: Record<string, unknown> } };
  delete incomplete.model.encoder['stemStride'];
  refuses(incomplete, /`model\.encoder\.stemStride`. Expected a value \(the key is required\)/, false);
  // Merged onto an encoder of another kind, a key it does not have is refused when the spec resolves.
  const merged = presetSpec();
  merged.model = mergeModel(merged.model, { encoder: { hidden: [64] } });
  assert.throws(
    () => resolveRunSpec(merged),
    /`model\.encoder\.hidden`. Expected no such key: a small-resnet/,
  );
});

test('the head follows the method, and a change of kind is one difference', () => {
  const ce = presetSpec();
  ce.train = { ...ce.train, method: 'ce' };
  assert.deepEqual(resolveRunSpec(ce).model.head, { kind: 'classifier' });
  const back = resolveRunSpec(ce);
  back.train = { ...back.train, method: 'supcon' };
  assert.deepEqual(resolveRunSpec(back).model.head, HEAD_DEFAULTS.projection);
  const a = presetSpec();
  const b = structuredClone(a);
  b.model.encoder = { kind: 'mlp', hidden: [64] };
  assert.deepEqual(specDifferences(a, b), ['model.encoder: "small-resnet" → "mlp"']);
});

test("an old ResNet checkpoint's head entries and their optimiser slots get the one head's names", () => {
  const t = (v: number) => ({ shape: [1], values: Float32Array.of(v) });
  const state: TrainerState = {
    iteration: 3,
    epochLoss: { sum: 0, steps: 0 },
    variables: { 'encoder/stem/kernel': t(1), 'head/head/w1': t(2), 'head/head/b2': t(3) },
    optimizer: {
      kind: 'sgd',
      step: 3,
      slots: { 'head/head/w1/momentum': t(4), 'encoder/stem/kernel/momentum': t(5) },
    },
  };
  const renamed = upgradeCheckpointNames(state);
  assert.deepEqual(Object.keys(renamed.variables), [
    'encoder/stem/kernel',
    'head/dense0/kernel',
    'head/dense1/bias',
  ]);
  assert.deepEqual(Object.keys(renamed.optimizer.slots), [
    'head/dense0/kernel/momentum',
    'encoder/stem/kernel/momentum',
  ]);
  assert.equal(renamed.variables['head/dense0/kernel'], state.variables['head/head/w1']);
  const current = { ...state, variables: { 'head/dense0/kernel': t(2) } };
  assert.equal(upgradeCheckpointNames(current), current);
});
