/**
 * The ViT recipe's training flags (issue 13): `--clip-grad-norm X`, `--decoupled` (AdamW) and
 * `--label-smoothing E` land in the run spec where the core reads them, and bad values or a flag
 * that means nothing to the run are refused as one sentence naming the flag.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trainFlagSpecs } from '../src/commands/train-flags.js';
import { specFromFlags } from '../src/commands/train-spec.js';
import { parseFlags } from '../src/flags.js';

const spec = (argv: string[]) => specFromFlags(parseFlags(argv, trainFlagSpecs).flags);

test('the ViT recipe flags land in the run spec', () => {
  const s = spec([
    ...['--encoder', 'vit-mini', '--method', 'ce', '--optimizer', 'adam', '--decoupled'],
    ...['--weight-decay', '0.05', '--clip-grad-norm', '1', '--label-smoothing', '0.1'],
  ]);
  assert.deepEqual(
    { ...s.train.optimizer },
    { kind: 'adam', momentum: 0.9, weightDecay: 0.05, decoupled: true, clipGradNorm: 1 },
  );
  assert.equal(s.train.labelSmoothing, 0.1);
  assert.equal(s.model.encoder.kind, 'vit');
  // Left out, none of them is stored: older config.json files and new ones without them read alike.
  const plain = spec(['--method', 'ce']);
  assert.ok(!('clipGradNorm' in plain.train.optimizer) && !('labelSmoothing' in plain.train));
});

test('a new --method drops the label smoothing of a ce spec (it follows the method)', () => {
  const ce = spec(['--method', 'ce', '--label-smoothing', '0.2']);
  const back = specFromFlags(parseFlags(['--method', 'supcon'], trainFlagSpecs).flags, ce);
  assert.ok(!('labelSmoothing' in back.train));
});

test('bad values and flags that mean nothing to the run are one sentence naming the flag', () => {
  const refusals: [string[], RegExp][] = [
    [
      ['--clip-grad-norm', '0'],
      /`--clip-grad-norm`. Expected a global gradient norm > 0.*Received: --clip-grad-norm=0/,
    ],
    [['--clip-grad-norm', '-1'], /`--clip-grad-norm`. Expected a value >= 0/],
    [
      ['--decoupled'],
      /`--decoupled`. Expected it only with `--optimizer adam` \(AdamW; this run's optimiser is sgd\)/,
    ],
    [
      ['--label-smoothing', '0.1'],
      /`--label-smoothing`. Expected a number in \[0, 1\) with `--method ce` \(this run's method is supcon\)/,
    ],
    [['--method', 'ce', '--label-smoothing', '1'], /`--label-smoothing`.*Received: --label-smoothing=1\./],
  ];
  for (const [argv, message] of refusals) assert.throws(() => spec(argv), message, argv.join(' '));
});
