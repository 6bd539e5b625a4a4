/**
 * Small folder datasets (issue 15, item 14): a fractional validation split keeps every class on both
 * sides, and a class folder holding a folder is refused in a sentence that says so.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  countPerClass,
  DatasetError,
  DEFAULT_FOLDER_VALIDATION,
  encodePng,
  loadDataset,
  validationIndices,
} from '@supcon/node';
import { InvalidArgumentError } from 'supcon';

const perClassOf = (labels: Int32Array, idx: Int32Array, classes: number) =>
  countPerClass(
    Int32Array.from(idx, (i) => labels[i]!),
    classes,
  );

test('a fraction gives every class of 2+ samples at least 1 validation sample and keeps 1 in training', () => {
  // 3 classes of 5: 10% asks for round(1.5) = 2 samples, so largest remainder alone leaves a class out.
  const labels = Int32Array.from({ length: 15 }, (_, i) => Math.floor(i / 5));
  const { train, validation } = validationIndices(labels, { size: DEFAULT_FOLDER_VALIDATION, seed: 0 });
  assert.deepEqual(perClassOf(labels, validation, 3), [1, 1, 1]);
  assert.deepEqual(perClassOf(labels, train, 3), [4, 4, 4]);
  // A class of 2 gives 1 and keeps 1 even at 90%; a class of 1 stays in training.
  const uneven = Int32Array.from([0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
  const big = validationIndices(uneven, { size: 0.9 });
  assert.deepEqual(perClassOf(uneven, big.validation, 3), [1, 0, 9]);
  assert.deepEqual(perClassOf(uneven, big.train, 3), [1, 1, 1]);
  // 3 samples at 10% used to round to no validation sample at all.
  assert.equal(validationIndices(Int32Array.from([0, 0, 0]), { size: 0.1 }).validation.length, 1);
  // Only one sample per class: nothing can be held out, an argument error.
  assert.throws(() => validationIndices(Int32Array.from([0, 1, 2]), { size: 0.5 }), InvalidArgumentError);
});

test('large classes split by a fraction exactly as before (round(f·n), largest remainder)', () => {
  const labels = Int32Array.from({ length: 1000 }, (_, i) => (i < 700 ? i % 7 : 7 + (i % 3)));
  assert.equal(validationIndices(labels, { size: 0.25 }).validation.length, 250);
  const counts = validationIndices(labels, { size: 100, seed: 3 });
  assert.equal(counts.validation.length, 100, 'a count is exact');
});

function writeClasses(root: string, classes: string[], perClass: number): void {
  for (const [c, name] of classes.entries()) {
    mkdirSync(join(root, name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const px = new Uint8Array(8 * 8 * 3).fill(40 + 80 * c + i);
      writeFileSync(join(root, name, `${i}.png`), encodePng(px, 8, 8, 3));
    }
  }
}

test('a folder inside a class folder is refused in one sentence naming it and what was expected', async () => {
  const root = mkdtempSync(join(tmpdir(), 'supcon-nested-'));
  try {
    writeClasses(root, ['cats', 'dogs'], 2);
    mkdirSync(join(root, 'dogs', 'puppies.png'));
    await assert.rejects(
      loadDataset(`folder:${root}`, { imageSize: 8 }),
      (e: Error) =>
        e instanceof DatasetError &&
        e.message ===
          `Invalid dataset file \`${join(root, 'dogs', 'puppies.png')}\`: it is a folder inside the class folder \`dogs/\`, which must hold only JPEG, PNG or WebP files (one folder of images per class, directly in \`${root}\`).`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a lone train/ (no test/ beside it) is named as the cause', async () => {
  const root = mkdtempSync(join(tmpdir(), 'supcon-lone-train-'));
  try {
    writeClasses(join(root, 'train'), ['cats', 'dogs'], 2);
    await assert.rejects(
      loadDataset(`folder:${root}`, { imageSize: 8 }),
      (e: Error) =>
        e instanceof DatasetError &&
        e.message.includes(`has no \`test/\` beside it; a dataset split into train/ and test/ needs both`) &&
        e.message.includes(join(root, 'train', 'cats')),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
