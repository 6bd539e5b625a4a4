/**
 * Each augmentation op against torchvision's functional op on fixed parameters. The fixtures are
 * written by `/usr/bin/python3 reference/torch_augment.py fixtures packages/supcon/test/augment-fixtures.json`.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  type AugmentOpName,
  adjustBrightness,
  adjustContrast,
  adjustHue,
  adjustSaturation,
  applyOp,
  CIFAR10_POLICY,
  erase,
  gaussianBlur,
  gaussianKernel,
  horizontalFlip,
  normalizeImage,
  opMagnitude,
  resizedCrop,
  toGrayscale,
} from 'supcon';

interface Case {
  name: string;
  input: 'rgb' | 'gray' | 'rgb8';
  params: Record<string, number | number[] | string>;
  shape: [number, number, number];
  output: number[];
}
interface Fixtures {
  images: Record<string, number[]>;
  shapes: Record<string, [number, number, number]>;
  cases: Case[];
  augmentationSpace: Record<string, Record<string, { values: number[]; signed: boolean }>>;
  cifar10Policy: [string, number, number | null][][];
}

const fixtures: Fixtures = JSON.parse(
  readFileSync(new URL('../test/augment-fixtures.json', import.meta.url), 'utf8'),
);

function run(c: Case): Float32Array {
  const [h, w, ch] = fixtures.shapes[c.input]!;
  const scale = c.input === 'rgb8' ? 1 / 255 : 1;
  const img = Float32Array.from(fixtures.images[c.input]!, (v) => v * scale);
  const n = img.length;
  const p = c.params as Record<string, number>;
  switch (c.name) {
    case 'resizedCrop': {
      const out = new Float32Array(p['outHeight']! * p['outWidth']! * ch);
      resizedCrop(
        img,
        0,
        w,
        ch,
        p['top']!,
        p['left']!,
        p['height']!,
        p['width']!,
        p['outHeight']!,
        p['outWidth']!,
        out,
        0,
      );
      return out;
    }
    case 'horizontalFlip':
      horizontalFlip(img, 0, h, w, ch);
      return img;
    case 'brightness':
      adjustBrightness(img, 0, n, p['factor']!);
      return img;
    case 'contrast':
      adjustContrast(img, 0, n, ch, p['factor']!);
      return img;
    case 'saturation':
      adjustSaturation(img, 0, n, ch, p['factor']!);
      return img;
    case 'hue':
      adjustHue(img, 0, n, ch, p['factor']!);
      return img;
    case 'grayscale':
      toGrayscale(img, 0, n, ch);
      return img;
    case 'gaussianBlur':
      gaussianBlur(img, 0, h, w, ch, gaussianKernel(p['kernelSize']!, p['sigma']!), new Float32Array(n));
      return img;
    case 'normalize':
      normalizeImage(img, 0, n, c.params['mean'] as number[], c.params['std'] as number[]);
      return img;
    case 'erase':
      erase(img, 0, w, ch, [p['top']!, p['left']!, p['height']!, p['width']!], c.params['fill'] as number[]);
      return img;
    case 'autoAugmentOp': {
      applyOp(c.params['op'] as AugmentOpName, p['magnitude']!, img, 0, h, w, ch, new Float32Array(n));
      return img.map((v) => v * 255);
    }
    default:
      throw new Error(`unknown fixture case ${c.name}`);
  }
}

for (const c of fixtures.cases) {
  // Long arrays (an erase's per-pixel fill) are shown by their length.
  const shown = JSON.stringify(c.params, (_, v) =>
    Array.isArray(v) && v.length > 4 ? `${v.length} values` : v,
  );
  const label = `${c.name} ${shown} on ${c.input} matches torchvision`;
  test(label, () => {
    const got = run(c);
    const p = c.params as Record<string, number>;
    assert.equal(got.length, c.output.length);
    if (c.input === 'rgb8') {
      // torchvision works on uint8 here: it truncates after each blend and rounds the grey or
      // smoothed image it blends with first; we keep floats. With factor f that is up to
      // |1 − f| + 1 levels apart for blends, and one level otherwise.
      const blend = ['Brightness', 'Color', 'Contrast', 'Sharpness'].includes(c.params['op'] as string);
      const tolerance = blend ? Math.abs(p['magnitude']!) + 1.01 : 1.01;
      let off = 0;
      for (let i = 0; i < got.length; i++) {
        const d = Math.abs(got[i]! - c.output[i]!);
        if (d > tolerance) off++;
      }
      // Nearest-neighbour warps may round a pixel differently at exact .5 ties.
      assert.ok(off <= got.length * 0.01, `${off} of ${got.length} values differ by more than 1/255`);
      return;
    }
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - c.output[i]!));
    assert.ok(worst < 2e-5, `max abs difference ${worst}`);
  });
}

test('magnitude bins match torchvision RandAugment._augmentation_space', () => {
  for (const [key, space] of Object.entries(fixtures.augmentationSpace)) {
    const [bins, hw] = key.split(':') as [string, string];
    const [h, w] = hw.split('x').map(Number) as [number, number];
    for (const [op, { values, signed }] of Object.entries(space)) {
      if (values.length === 0) continue;
      values.forEach((v, i) => {
        const m = opMagnitude(op as AugmentOpName, i, Number(bins), h, w);
        assert.ok(Math.abs(m.value - v) < 1e-4, `${op} bin ${i} of ${bins}: ${m.value} vs ${v}`);
        assert.equal(m.signed, signed, op);
      });
    }
  }
});

test('the CIFAR-10 AutoAugment policy matches torchvision', () => {
  assert.deepEqual(CIFAR10_POLICY, fixtures.cifar10Policy);
});
