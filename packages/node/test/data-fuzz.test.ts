/**
 * Fuzz test: thousands of mutated files through every parser. Each must either parse into a
 * consistent dataset (damage to pixel bytes is still valid data) or throw a DatasetError that
 * names the file in one sentence; anything else (a crash, a RangeError, a short dataset) fails.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DatasetError, decodeImage, type ImageSet, parseCifar, parseIdxPair } from '@supcon/node';
import { Random } from 'supcon';
import { mutate, tinyCifar, tinyIdx } from './helpers.js';

const ROUNDS = 1200;

function consistent(set: ImageSet, classes: number, expectedCount?: number): void {
  assert.ok(set.count > 0);
  if (expectedCount !== undefined) assert.equal(set.count, expectedCount);
  assert.equal(set.images.length, set.count * set.height * set.width * set.channels);
  assert.equal(set.labels.length, set.count);
  for (const l of set.labels) assert.ok(l >= 0 && l < classes);
}

function fuzz(
  name: string,
  parse: (bytes: Uint8Array, file: string) => ImageSet,
  valid: Uint8Array,
  classes: number,
  count?: number,
) {
  const rng = new Random(0xf00d + name.length);
  const outcomes = { parsed: 0, rejected: 0 };
  for (let round = 0; round < ROUNDS; round++) {
    let bytes = mutate(valid, rng);
    if (rng.chance(0.3)) bytes = gzipSync(bytes);
    if (rng.chance(0.1)) bytes = mutate(bytes, rng); // damage the gzip stream itself
    const file = `/fuzz/${name}-${round}`;
    try {
      consistent(parse(bytes, file), classes, count);
      outcomes.parsed++;
    } catch (error) {
      if (!(error instanceof DatasetError)) throw new Error(`${name} round ${round}: ${String(error)}`);
      assert.ok(
        error.message.startsWith(`Invalid dataset file \`${file}\`: `) && !error.message.includes('\n'),
        error.message,
      );
      outcomes.rejected++;
    }
  }
  assert.equal(outcomes.parsed + outcomes.rejected, ROUNDS);
  assert.ok(
    outcomes.rejected > ROUNDS / 3,
    `${name}: most mutations must be caught (${JSON.stringify(outcomes)})`,
  );
  return outcomes;
}

test(`IDX images file: ${ROUNDS} mutated files`, { timeout: 60_000 }, () => {
  const { images, labels } = tinyIdx(20, 6, 5);
  fuzz('idx-images', (b, f) => parseIdxPair(b, f, labels, 'labels', 10), images, 10);
});

test(`IDX labels file: ${ROUNDS} mutated files`, { timeout: 60_000 }, () => {
  const { images, labels } = tinyIdx(20, 6, 5);
  fuzz('idx-labels', (b, f) => parseIdxPair(images, 'images', b, f, 10), labels, 10, 20);
});

test(`CIFAR-10 binary: ${ROUNDS} mutated files`, { timeout: 60_000 }, () => {
  fuzz(
    'cifar10',
    (b, f) => parseCifar(b, f, { kind: 'cifar10', records: 5 }),
    tinyCifar('cifar10', 5),
    10,
    5,
  );
});

test(`CIFAR-100 binary: ${ROUNDS} mutated files`, { timeout: 60_000 }, () => {
  fuzz(
    'cifar100',
    (b, f) => parseCifar(b, f, { kind: 'cifar100', records: 5 }),
    tinyCifar('cifar100', 5),
    100,
    5,
  );
});

test('folder images (PNG, JPEG, WebP through sharp): 1,200 mutated files', { timeout: 60_000 }, async () => {
  const sharp = (await import('sharp')).default;
  const rng = new Random(0xbeef);
  const pixels = Uint8Array.from({ length: 12 * 10 * 3 }, () => rng.int(0, 256));
  const base = sharp(pixels, { raw: { width: 12, height: 10, channels: 3 } });
  const valid = [
    await base.clone().png().toBuffer(),
    await base.clone().jpeg().toBuffer(),
    await base.clone().webp().toBuffer(),
  ];
  const outcomes = { decoded: 0, rejected: 0 };
  const one = async (round: number) => {
    const file = `/fuzz/image-${round}`;
    const bytes = mutate(valid[round % 3]!, rng);
    try {
      const out = await decodeImage(bytes, file, 8, 3);
      assert.equal(out.length, 8 * 8 * 3);
      outcomes.decoded++;
    } catch (error) {
      if (!(error instanceof DatasetError)) throw new Error(`image round ${round}: ${String(error)}`);
      assert.ok(
        error.message.startsWith(`Invalid dataset file \`${file}\`: `) && !error.message.includes('\n'),
        error.message,
      );
      outcomes.rejected++;
    }
  };
  for (let start = 0; start < ROUNDS; start += 16) {
    await Promise.all(Array.from({ length: Math.min(16, ROUNDS - start) }, (_, k) => one(start + k)));
  }
  assert.equal(outcomes.decoded + outcomes.rejected, ROUNDS);
  assert.ok(outcomes.rejected > ROUNDS / 4, JSON.stringify(outcomes));
});
