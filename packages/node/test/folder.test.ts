import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DatasetError, loadDataset } from '@supcon/node';
import sharp from 'sharp';

/** A solid-colour image of w×h encoded as `format`. */
async function solid(
  format: 'png' | 'jpeg' | 'webp',
  w: number,
  h: number,
  rgb: [number, number, number],
): Promise<Buffer> {
  const img = sharp({
    create: { width: w, height: h, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } },
  });
  return format === 'png'
    ? img.png().toBuffer()
    : format === 'jpeg'
      ? img.jpeg({ quality: 95 }).toBuffer()
      : img.webp({ lossless: true }).toBuffer();
}

async function makeFolder(root: string): Promise<void> {
  mkdirSync(join(root, 'cats'), { recursive: true });
  mkdirSync(join(root, 'dogs'));
  writeFileSync(join(root, 'cats', 'a.png'), await solid('png', 40, 30, [255, 0, 0]));
  writeFileSync(join(root, 'cats', 'b.JPG'), await solid('jpeg', 20, 20, [0, 255, 0]));
  writeFileSync(join(root, 'dogs', 'c.webp'), await solid('webp', 64, 48, [0, 0, 255]));
  writeFileSync(join(root, '.DS_Store'), 'hidden files are ignored');
}

test('folder:PATH decodes PNG, JPEG and WebP, resizes, labels by sorted sub-folder', async () => {
  const root = mkdtempSync(join(tmpdir(), 'supcon-folder-'));
  try {
    await makeFolder(root);
    const ds = await loadDataset(`folder:${root}`, { imageSize: 8 });
    assert.deepEqual(ds.classes, ['cats', 'dogs']);
    assert.deepEqual([ds.train.count, ds.train.height, ds.train.width, ds.train.channels], [3, 8, 8, 3]);
    assert.deepEqual(Array.from(ds.train.labels), [0, 0, 1]);
    const px = (k: number) => Array.from(ds.train.images.subarray(k * 192, k * 192 + 3));
    assert.deepEqual(px(0), [255, 0, 0]);
    assert.ok(px(1)[1]! > 240 && px(1)[0]! < 15, `JPEG green ${px(1)}`);
    assert.deepEqual(px(2), [0, 0, 255]);
    assert.equal(ds.test, undefined);
    const gray = await loadDataset(`folder:${root}`, { imageSize: 4, channels: 1 });
    assert.equal(gray.train.images.length, 3 * 16);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('folder datasets: a non-image, an undecodable image and an empty class folder are clear errors', async () => {
  const root = mkdtempSync(join(tmpdir(), 'supcon-folder-bad-'));
  try {
    await makeFolder(root);
    writeFileSync(join(root, 'dogs', 'notes.txt'), 'not an image');
    await assert.rejects(
      loadDataset(`folder:${root}`),
      (e: Error) =>
        e instanceof DatasetError && e.message.includes('notes.txt`: it is not a JPEG, PNG or WebP image'),
    );
    rmSync(join(root, 'dogs', 'notes.txt'));
    writeFileSync(join(root, 'dogs', 'broken.png'), Buffer.from('this is text with a .png name'));
    await assert.rejects(
      loadDataset(`folder:${root}`),
      (e: Error) =>
        e instanceof DatasetError &&
        /broken\.png`: it cannot be decoded as an image \(.+\)\.$/.test(e.message),
    );
    rmSync(join(root, 'dogs', 'broken.png'));
    const png = await solid('png', 10, 10, [1, 2, 3]);
    writeFileSync(join(root, 'dogs', 'cut.png'), png.subarray(0, png.length - 30));
    await assert.rejects(
      loadDataset(`folder:${root}`),
      (e: Error) => e instanceof DatasetError && e.message.includes('cut.png`: it cannot be decoded'),
    );
    rmSync(join(root, 'dogs', 'cut.png'));
    mkdirSync(join(root, 'empty'));
    await assert.rejects(
      loadDataset(`folder:${root}`),
      (e: Error) =>
        e instanceof DatasetError && e.message.includes('empty`: the class folder holds no images'),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('folder datasets with train/ and test/ splits', async () => {
  const root = mkdtempSync(join(tmpdir(), 'supcon-folder-split-'));
  try {
    await makeFolder(join(root, 'train'));
    await makeFolder(join(root, 'test'));
    const ds = await loadDataset(`folder:${root}`, { imageSize: 6 });
    assert.equal(ds.train.count, 3);
    assert.equal(ds.test!.count, 3);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
