/**
 * `supcon train --queue-size N --queue-momentum M` on a Fashion-MNIST slice: config.json records the
 * momentum, the checkpoint holds the key encoder, a stopped run resumes; the flag without a queue is
 * refused by name with nothing written.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli, hasFashion, readJson, tinyFashion, tinyRun } from './helpers.js';

const skip = !hasFashion && 'no Fashion-MNIST';
const data = hasFashion ? tinyFashion(512, 200) : '';
const root = mkdtempSync(join(tmpdir(), 'supcon-queue-momentum-'));
after(() => {
  if (data !== '') rmSync(data, { recursive: true });
  rmSync(root, { recursive: true });
});

test('train --queue-momentum records the momentum and checkpoints the key encoder', { skip }, () => {
  const out = join(root, 'run');
  const flags = [
    ...tinyRun(data, 64),
    '--quiet',
    '--knn-k',
    '0',
    '--queue-size',
    '256',
    '--queue-momentum',
    '0.99',
  ];
  const t = cli('train', '--out', out, ...flags, '--json');
  assert.equal(t.status, 0, t.stderr);
  const train = readJson(join(out, 'config.json'))['train'] as Record<string, unknown>;
  assert.equal(train['queueSize'], 256);
  assert.equal(train['queueMomentum'], 0.99);
  // the key encoder's weights travel in the checkpoint under momentum/… names
  const bytes = readFileSync(join(out, 'checkpoint.bin'));
  assert.ok(bytes.includes(Buffer.from('momentum/encoder/')), 'momentum/encoder/… entries in checkpoint.bin');
  // lengthening the run resumes with the key encoder restored from the checkpoint
  const more = [...tinyRun(data, 64, 2), ...flags.slice(tinyRun(data, 64).length)];
  const r = cli('train', '--out', out, ...more, '--resume', '--json');
  assert.equal(r.status, 0, r.stderr);
  assert.equal((JSON.parse(r.stdout) as Record<string, unknown>)['epochs'], 2);
});

test('--queue-momentum without --queue-size is refused by name; nothing is written', { skip }, () => {
  const out = join(root, 'bad');
  const t = cli('train', '--out', out, ...tinyRun(data, 64), '--queue-momentum', '0.99');
  assert.equal(t.status, 2, t.stderr);
  assert.match(t.stderr, /`--queue-momentum`.*`--queue-size N` > 0/);
  assert.equal(existsSync(out), false);
});
