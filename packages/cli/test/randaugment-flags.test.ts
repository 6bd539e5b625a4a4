/**
 * `--randaugment-magnitude M` and `--randaugment-ops N`: valid only with `--augment randaugment`,
 * refused otherwise in one sentence naming the flag; they land in `data` (the node test
 * randaugment-spec.test.ts follows them into the views); without them a run's config.json is as
 * before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trainFlagSpecs } from '../src/commands/train-flags.js';
import { specFromFlags } from '../src/commands/train-spec.js';
import { parseFlags } from '../src/flags.js';
import { cli } from './helpers.js';

const spec = (...argv: string[]) => specFromFlags(parseFlags(argv, trainFlagSpecs).flags);

test('the flags land in data with --augment randaugment; the defaults are written out', () => {
  const s = spec('--augment', 'randaugment', '--randaugment-magnitude', '15', '--randaugment-ops', '1');
  assert.deepEqual(
    [s.data.augment, s.data.randAugmentMagnitude, s.data.randAugmentOps],
    ['randaugment', 15, 1],
  );
  const d = spec('--augment', 'randaugment');
  assert.deepEqual([d.data.randAugmentMagnitude, d.data.randAugmentOps], [9, 2]);
  assert.equal('randAugmentMagnitude' in spec().data, false, 'the default light run keeps no such key');
  // Another --augment over a randaugment spec (a resumed run, a config file) drops its settings.
  const back = specFromFlags(parseFlags(['--augment', 'supcon'], trainFlagSpecs).flags, s);
  assert.equal('randAugmentMagnitude' in back.data || 'randAugmentOps' in back.data, false);
});

test('without --augment randaugment, or out of range: one sentence naming the flag', () => {
  assert.throws(
    () => spec('--randaugment-magnitude', '12'),
    /^InvalidArgumentError: Invalid value for argument `--randaugment-magnitude`. Expected it only with `--augment randaugment` \(this run augments with light\). Received: --randaugment-magnitude=12.$/,
  );
  assert.throws(
    () => spec('--augment', 'autoaugment', '--randaugment-ops', '3'),
    /`--randaugment-ops`. Expected it only with `--augment randaugment` \(this run augments with autoaugment\)/,
  );
  assert.throws(
    () => spec('--augment', 'randaugment', '--randaugment-magnitude', '31'),
    /`--randaugment-magnitude`. Expected a magnitude bin from 0 to 30. Received: --randaugment-magnitude=31./,
  );
  const r = cli('train', '--randaugment-magnitude', '3', '--out', '/nonexistent/never');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^supcon: Invalid value for argument `--randaugment-magnitude`.*\n$/);
});
