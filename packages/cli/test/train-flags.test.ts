/**
 * The training flag table is the one declaration of every training flag: each row must reach the
 * help of `train`, `demo` and `train-distributed`, the parser, the run spec (at its path) and, when
 * marked, `supcon sweep --vary`. A flag added without one of them fails here. Also: an absent base
 * temperature means τ, so a config file that changes τ leaves no stale base behind.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { patchModel } from '@supcon/node';
import { demoCommand } from '../src/commands/demo.js';
import { sweepCommand } from '../src/commands/sweep.js';
import { trainCommand } from '../src/commands/train.js';
import { trainDistributedCommand } from '../src/commands/train-distributed.js';
import { SWEEP_VARIABLES, TRAIN_FLAGS, trainFlagSpecs } from '../src/commands/train-flags.js';
import { specFromFlags } from '../src/commands/train-spec.js';
import { parseFlags } from '../src/flags.js';

/**
 * A valid value for every flag that differs from the fashion-quick preset's, and the flags it needs
 * beside it. A new flag needs an entry here, which is the point: it must parse and land in the spec.
 */
const SAMPLES: Record<string, { value?: string; with?: string[]; before?: string[] }> = {
  preset: { value: 'cifar-paper' },
  config: {},
  method: { value: 'simclr' },
  dataset: { value: 'cifar10' },
  epochs: { value: '3' },
  'batch-size': { value: '64' },
  views: { value: '3' },
  lr: { value: '0.25' },
  optimizer: { value: 'lars' },
  momentum: { value: '0.8' },
  nesterov: {},
  'weight-decay': { value: '0.001' },
  decoupled: { with: ['--optimizer', 'adam'] },
  'clip-grad-norm': { value: '1.5' },
  temperature: { value: '0.2' },
  'base-temperature': { value: '0.07' },
  'warmup-epochs': { value: '1' },
  decay: { value: 'step' },
  'min-lr': { value: '0.001' },
  'scale-lr': {},
  encoder: { value: 'mlp' },
  width: { value: '8' },
  'stem-stride': { value: '1' },
  projection: { value: 'linear' },
  stem: { value: 'imagenet', with: ['--encoder', 'resnet18'] },
  'width-multiplier': { value: '0.5', with: ['--encoder', 'resnet18'] },
  'label-smoothing': { value: '0.1', with: ['--method', 'ce'] },
  mixup: { value: '0.2', with: ['--method', 'ce'] },
  cutmix: { value: '1', with: ['--method', 'ce'] },
  'mix-prob': { value: '0.5', with: ['--method', 'ce', '--mixup', '0.2'] },
  'queue-size': { value: '512' },
  'queue-momentum': { value: '0.99', with: ['--queue-size', '512'] },
  chunk: { value: '32' },
  // Each needs the other, so the spec they change is the preset's (`before`), not `with` alone.
  sampler: { value: 'balanced', with: ['--samples-per-class', '32'], before: [] },
  'samples-per-class': { value: '32', with: ['--sampler', 'balanced'], before: [] },
  'joint-probe': {},
  'sync-bn': {},
  augment: { value: 'none' },
  'randaugment-magnitude': { value: '12', with: ['--augment', 'randaugment'] },
  'randaugment-ops': { value: '3', with: ['--augment', 'randaugment'] },
  limit: { value: '100' },
  'random-erasing': { value: '0.25' },
  validation: { value: '100' },
  size: { value: '16', with: ['--dataset', 'folder:/tmp/images'] },
  grayscale: { with: ['--dataset', 'folder:/tmp/images'] },
  seed: { value: '7' },
  'checkpoint-every': { value: '5' },
  'probe-epochs': { value: '2' },
  'knn-k': { value: '20' },
  backend: { value: 'cpu' },
  precision: { value: 'bf16' },
  quiet: {},
  'no-prefetch': {},
  'prefetch-depth': { value: '2' },
};

/** Flags that set how a run goes, not what it is: they have no run-spec field. */
const NOT_IN_SPEC = ['preset', 'config', 'backend', 'quiet', 'no-prefetch', 'prefetch-depth'];

const mentions = (help: string, name: string) => new RegExp(`--${name}(?![\\w-])`).test(help);

function at(spec: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], spec);
}

test('every row of the flag table has a sample here, and every sample a row', () => {
  assert.deepEqual(Object.keys(SAMPLES).sort(), TRAIN_FLAGS.map((f) => f.name).sort());
  assert.deepEqual(Object.keys(trainFlagSpecs).sort(), Object.keys(SAMPLES).sort());
});

test('every training flag is in the help of train and demo, and of train-distributed where it applies', () => {
  for (const flag of TRAIN_FLAGS) {
    assert.ok(mentions(trainCommand.help, flag.name), `train --help lacks --${flag.name}`);
    assert.ok(mentions(demoCommand.help, flag.name), `demo --help lacks --${flag.name}`);
    assert.equal(
      mentions(trainDistributedCommand.help, flag.name),
      flag.singleProcess === undefined,
      `train-distributed --help and --${flag.name}`,
    );
  }
});

test('every training flag parses, and those of the run spec land at their path', () => {
  for (const flag of TRAIN_FLAGS) {
    const sample = SAMPLES[flag.name]!;
    const argv = [
      `--${flag.name}`,
      ...(sample.value !== undefined ? [sample.value] : []),
      ...(sample.with ?? []),
    ];
    if (flag.name === 'config') continue; // a file: below
    const { flags } = parseFlags(argv, trainFlagSpecs);
    const parsed = flags[flag.name];
    assert.equal(
      parsed,
      flag.kind === 'boolean' ? true : flag.kind === 'string' ? sample.value : Number(sample.value),
    );
    const before = specFromFlags(parseFlags(sample.before ?? sample.with ?? [], trainFlagSpecs).flags);
    if (flag.model !== undefined) {
      // A model flag sets its flat key, which patchModel maps onto { encoder, head }.
      const model = specFromFlags(flags).model;
      assert.notDeepEqual(model, before.model, `the sample of --${flag.name} changes the model`);
      assert.deepEqual(model, patchModel(before.model, { [flag.model]: parsed }), `--${flag.name} → model`);
      continue;
    }
    if (flag.to === undefined) {
      assert.ok(NOT_IN_SPEC.includes(flag.name), `--${flag.name} sets no run-spec field`);
      continue;
    }
    assert.notDeepEqual(at(before, flag.to), parsed, `the sample of --${flag.name} is the default`);
    assert.deepEqual(at(specFromFlags(flags), flag.to), parsed, `--${flag.name} → ${flag.to}`);
  }
});

test('sweep varies exactly the rows marked so, all of them flags taking a value of the run spec', () => {
  const listed = /NAME one of: (.*)/.exec(sweepCommand.help)?.[1]?.split(', ');
  assert.deepEqual(listed, [...SWEEP_VARIABLES]);
  assert.deepEqual(
    SWEEP_VARIABLES,
    TRAIN_FLAGS.filter((f) => f.sweep).map((f) => f.name),
  );
  for (const flag of TRAIN_FLAGS.filter((f) => f.sweep)) {
    assert.notEqual(flag.kind, 'boolean', `--${flag.name}: a sweep gives each run a value`);
    assert.ok(flag.to ?? flag.model, `--${flag.name}: a swept flag changes the run spec`);
  }
});

test('an absent base temperature means τ: changing τ anywhere leaves no stale base', () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-flags-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ train: { temperature: 0.2 } }));
  const fromFile = specFromFlags(parseFlags(['--config', file], trainFlagSpecs).flags);
  assert.equal(fromFile.train.temperature, 0.2);
  assert.equal(fromFile.train.baseTemperature, undefined, 'scale τ/base = 1');
  const fromFlag = specFromFlags(parseFlags(['--temperature', '0.3'], trainFlagSpecs).flags);
  assert.equal(fromFlag.train.baseTemperature, undefined);
  // A config.json written before (the base stored as τ's value) resolves to the same spec.
  writeFileSync(file, JSON.stringify({ train: { temperature: 0.2, baseTemperature: 0.2 } }));
  const old = specFromFlags(parseFlags(['--config', file], trainFlagSpecs).flags);
  assert.deepEqual(old, fromFile);
  // A base of its own is kept when τ changes.
  writeFileSync(file, JSON.stringify({ train: { baseTemperature: 0.07 } }));
  const own = specFromFlags(parseFlags(['--config', file, '--temperature', '0.5'], trainFlagSpecs).flags);
  assert.equal(own.train.baseTemperature, 0.07);
});
