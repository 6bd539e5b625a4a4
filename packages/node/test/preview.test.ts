import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { encodePng, onePerClass, previewGrid } from '@supcon/node';
import { augmentPreset } from 'supcon';

/** Decodes the PNGs we write (one IDAT, filter 0) back to pixels. */
function decode(png: Buffer): { width: number; height: number; channels: number; pixels: Uint8Array } {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const channels = png[25] === 0 ? 1 : 3;
  const len = png.readUInt32BE(33);
  assert.equal(png.subarray(37, 41).toString('latin1'), 'IDAT');
  const raw = inflateSync(png.subarray(41, 41 + len));
  const row = width * channels;
  const pixels = new Uint8Array(height * row);
  for (let y = 0; y < height; y++) {
    assert.equal(raw[y * (row + 1)], 0);
    pixels.set(raw.subarray(y * (row + 1) + 1, (y + 1) * (row + 1)), y * row);
  }
  return { width, height, channels, pixels };
}

test('encodePng round-trips pixels', () => {
  const pixels = Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 17) % 256);
  const back = decode(encodePng(pixels, 5, 3, 3));
  assert.deepEqual([back.width, back.height, back.channels], [5, 3, 3]);
  assert.deepEqual(back.pixels, pixels);
});

test('previewGrid: rows × (original + views) cells, original cell shows the image', () => {
  const set = {
    images: Uint8Array.from({ length: 3 * 4 * 4 }, (_, i) => i * 5),
    labels: Int32Array.from([0, 1, 0]),
    count: 3,
    height: 4,
    width: 4,
    channels: 1,
  };
  assert.deepEqual(onePerClass(set.labels, 3), [0, 1, 2]);
  const png = previewGrid(set, {
    steps: augmentPreset('supcon', { size: [4, 4] }),
    indices: [1, 0],
    views: 3,
    scale: 2,
  });
  const img = decode(png);
  assert.equal(img.width, 4 * 8 + 6 * 2);
  assert.equal(img.height, 2 * 8 + 3 * 2);
  // Top-left pixel of the first cell (offset by the 2-pixel gap) is pixel 0 of sample 1.
  assert.equal(img.pixels[2 * img.width + 2], set.images[16]);
});

test('supcon data preview writes the PNG; bench augment reports samplesPerSec', () => {
  const dir = mkdtempSync(join(tmpdir(), 'supcon-preview-'));
  const cli = join(import.meta.dirname, '../../../cli/bin/supcon.js');
  try {
    const out = join(dir, 'p.png');
    const bad = spawnSync(process.execPath, [cli, 'data', 'preview', 'mnist:/nonexistent', '--out', out], {
      encoding: 'utf8',
    });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^supcon: Dataset `mnist` not found: `\/nonexistent` does not exist/);
    const bench = spawnSync(
      process.execPath,
      [
        cli,
        'bench',
        'augment',
        '--dataset',
        'cifar10',
        '--synthetic',
        '--batch',
        '16',
        '--reps',
        '1',
        '--no-torch',
        '--workers',
        '1',
        '--json',
      ],
      { encoding: 'utf8' },
    );
    assert.equal(bench.status, 0, bench.stderr);
    const result = JSON.parse(bench.stdout);
    assert.ok(result.samplesPerSec > 0);
    assert.deepEqual(result.shape, [32, 32, 3]);
    assert.ok(result.loader.samplesPerSec > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
