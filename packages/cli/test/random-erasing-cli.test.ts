/**
 * `supcon train --random-erasing P` on a Fashion-MNIST slice (MLP encoder, one epoch): the step ends
 * the training views of every `--augment` kind (and leaves evaluation alone), config.json holds
 * `data.randomErasing` only when set, a config file may set its area range, the erased views change
 * what trains (another loss on the same seed), and bad values are refused naming the flag or key.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { AUGMENTS, augmentSteps } from '@supcon/node';
import { cli, hasFashion, readJson, tinyFashion, tinyRun } from './helpers.js';

const skip = !hasFashion && 'no Fashion-MNIST';
const data = hasFashion ? tinyFashion(512, 200) : '';
const root = mkdtempSync(join(tmpdir(), 'supcon-erasing-'));
after(() => {
  if (data !== '') rmSync(data, { recursive: true });
  rmSync(root, { recursive: true });
});
const tiny = () => [...tinyRun(data, 40), '--quiet', '--json'];

test('random erasing ends the training steps of every augmentation kind, and only with a probability', () => {
  for (const kind of AUGMENTS) {
    const plain = augmentSteps(kind, [28, 28], [0.286], [0.353]);
    const erased = augmentSteps(kind, [28, 28], [0.286], [0.353], {}, { p: 0.4, scale: [0.1, 0.2] });
    assert.deepEqual(
      erased.train,
      [...plain.train, { op: 'randomErasing', p: 0.4, scale: [0.1, 0.2] }],
      kind,
    );
    assert.deepEqual(erased.eval, plain.eval, `${kind}: evaluation is not erased`);
    assert.deepEqual(augmentSteps(kind, [28, 28], [0.286], [0.353], {}, {}), plain);
  }
});

test('train --random-erasing P is stored and changes the views; without it no key is written', {
  skip,
}, () => {
  const base = join(root, 'plain');
  const t0 = cli('train', '--out', base, ...tiny(), '--augment', 'supcon');
  assert.equal(t0.status, 0, t0.stderr);
  assert.equal('randomErasing' in (readJson(join(base, 'config.json'))['data'] as object), false);
  const out = join(root, 'erased');
  const t1 = cli('train', '--out', out, ...tiny(), '--augment', 'supcon', '--random-erasing', '1');
  assert.equal(t1.status, 0, t1.stderr);
  const d = readJson(join(out, 'config.json'))['data'] as Record<string, unknown>;
  assert.equal(d['randomErasing'], 1);
  assert.equal('randomErasingScale' in d, false);
  // Same seed, same crops; every view erased: another loss.
  const [l0, l1] = [t0, t1].map((t) => (JSON.parse(t.stdout) as { loss: number }).loss);
  assert.ok(Number.isFinite(l1) && l0 !== l1, `losses ${l0} and ${l1}`);
  // the report's hyperparameters say so
  const r = cli('report', '--run', out);
  assert.equal(r.status, 0, r.stderr);
  assert.match(readFileSync(join(out, 'report.html'), 'utf8'), /then random erasing with probability 1</);
});

test('a config file sets the erased area range; bad values are refused by name', { skip }, () => {
  const file = join(root, 'erasing.json');
  writeFileSync(file, JSON.stringify({ data: { randomErasing: 0.5, randomErasingScale: [0.05, 0.2] } }));
  const out = join(root, 'scaled');
  const t = cli('train', '--out', out, ...tiny(), '--config', file);
  assert.equal(t.status, 0, t.stderr);
  const d = readJson(join(out, 'config.json'))['data'] as Record<string, unknown>;
  assert.deepEqual([d['randomErasing'], d['randomErasingScale']], [0.5, [0.05, 0.2]]);

  const refusals: [string[], RegExp][] = [
    [
      ['--random-erasing', '1.5'],
      /^supcon: Invalid value for argument `--random-erasing`. Expected a probability in \(0, 1\] \(leave the flag out for no erasing\). Received: --random-erasing=1.5.\n$/,
    ],
    [['--random-erasing', '0'], /`--random-erasing`. Expected a probability in \(0, 1\]/],
    [['--random-erasing', '-1'], /`--random-erasing`. Expected a value >= 0. Received: -1./],
  ];
  for (const [config, scale] of [
    [
      { randomErasingScale: [0.1, 0.2] },
      /`data.randomErasingScale`. Expected no value without data.randomErasing/,
    ],
    [
      { randomErasing: 0.5, randomErasingScale: [0.3, 0.1] },
      /`data.randomErasingScale`. Expected \[min, max\]/,
    ],
    [
      { randomErasing: 2 },
      /`data.randomErasing`. Expected a probability in \(0, 1\]. Received: data.randomErasing=2./,
    ],
  ] as const) {
    const bad = join(root, `bad-${refusals.length}.json`);
    writeFileSync(bad, JSON.stringify({ data: config }));
    refusals.push([['--config', bad], scale]);
  }
  for (const [flags, message] of refusals) {
    const r = cli('train', '--out', join(root, 'refused'), ...tiny(), ...flags);
    assert.equal(r.status, 2, `${flags.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
