import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AUGMENT_PRESETS,
  Augmenter,
  type AugmentStep,
  adjustHue,
  augmentPreset,
  equalize,
  hashSeed,
  InvalidArgumentError,
  posterize,
  Random,
  resizedCrop,
  sampleCrop,
  solarize,
} from 'supcon';

function randomImages(count: number, h: number, w: number, c: number, seed = 1): Uint8Array {
  const r = new Random(seed);
  return Uint8Array.from({ length: count * h * w * c }, () => r.int(0, 256));
}

const everyStep = (size: [number, number], c: number): AugmentStep[] => [
  { op: 'randomResizedCrop', size, scale: [0.2, 1] },
  { op: 'horizontalFlip' },
  { op: 'colorJitter', brightness: 0.4, contrast: 0.4, saturation: 0.4, hue: 0.1, p: 0.8 },
  { op: 'randomGrayscale', p: 0.2 },
  { op: 'gaussianBlur', kernelSize: 3, p: 0.5 },
  { op: 'randAugment' },
  { op: 'autoAugment' },
  { op: 'normalize', mean: new Array(c).fill(0.5), std: new Array(c).fill(0.25) },
];

test('same seed, same views; another seed or epoch, other views; independent of batching', () => {
  const images = randomImages(6, 32, 32, 3);
  const aug = new Augmenter(everyStep([24, 24], 3), { height: 32, width: 32, channels: 3 });
  const a = aug.apply(images, 6, { views: 2, seed: 5 });
  const b = new Augmenter(everyStep([24, 24], 3), { height: 32, width: 32, channels: 3 }).apply(images, 6, {
    views: 2,
    seed: 5,
  });
  assert.deepEqual(a, b);
  assert.notDeepEqual(aug.apply(images, 6, { views: 2, seed: 6 }), a);
  assert.notDeepEqual(aug.apply(images, 6, { views: 2, seed: 5, epoch: 1 }), a);
  // Samples 3..5 augmented alone, with their global indices, equal the same rows of the full batch.
  const size = 24 * 24 * 3;
  const tail = aug.apply(images.subarray(3 * 32 * 32 * 3), 3, { views: 2, seed: 5, indices: [3, 4, 5] });
  assert.deepEqual(tail, a.subarray(3 * 2 * size));
  // The two views of a sample differ.
  assert.notDeepEqual(a.subarray(0, size), a.subarray(size, 2 * size));
});

test('output shape [count, views, H, W, C] and value ranges, gray and RGB, uint8 and float input', () => {
  for (const c of [1, 3]) {
    const images = randomImages(4, 28, 28, c, c);
    const steps = everyStep([20, 16], c).slice(0, -1);
    const aug = new Augmenter(steps, { height: 28, width: 28, channels: c });
    const out = aug.apply(images, 4, { views: 3, seed: 1 });
    assert.equal(out.length, 4 * 3 * 20 * 16 * c);
    assert.deepEqual(aug.output, { height: 20, width: 16, channels: c });
    for (const v of out) assert.ok(v >= 0 && v <= 1 && Number.isFinite(v));
    const floats = Float32Array.from(images, (v) => v / 255);
    const fromFloat = aug.apply(floats, 4, { views: 3, seed: 1 });
    let worst = 0;
    for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i]! - fromFloat[i]!));
    assert.ok(worst < 1e-5, `uint8 and float inputs agree (${worst})`);
  }
});

test('resizedCrop on hand-computed cases: identity, 2× nearest-centre upsampling, exact downsampling', () => {
  const img = Uint8Array.from([0, 51, 102, 153, 204, 255]); // 2×3 gray
  const same = new Float32Array(6);
  resizedCrop(img, 0, 3, 1, 0, 0, 2, 3, 2, 3, same, 0);
  assert.deepEqual(
    Array.from(same, (v) => Math.round(v * 255)),
    [0, 51, 102, 153, 204, 255],
  );
  // Upsampling one row of [0, 1] to 4 columns: sources -0.25→0, 0.25, 0.75, 1.25→clamped index 1.
  const up = new Float32Array(4);
  resizedCrop(Float32Array.from([0, 1]), 0, 2, 1, 0, 0, 1, 2, 1, 4, up, 0);
  assert.deepEqual(Array.from(up), [0, 0.25, 0.75, 1]);
  // Downsampling 4 → 2 averages pairs (sources 0.5 and 2.5).
  const down = new Float32Array(2);
  resizedCrop(Float32Array.from([0, 1, 2, 3]), 0, 4, 1, 0, 0, 1, 4, 1, 2, down, 0);
  assert.deepEqual(Array.from(down), [0.5, 2.5]);
});

test('sampleCrop respects the scale and ratio ranges', () => {
  const rng = new Random(3);
  for (let i = 0; i < 2000; i++) {
    const [top, left, h, w] = sampleCrop(rng, 32, 32, [0.2, 1], [3 / 4, 4 / 3]);
    assert.ok(top >= 0 && left >= 0 && top + h <= 32 && left + w <= 32);
    assert.ok((h * w) / 1024 >= 0.15 && (h * w) / 1024 <= 1.05, `area ${h * w}`);
  }
});

test('hand-computed colour and 8-bit ops', () => {
  const px = Float32Array.from([1, 0, 0]); // pure red, hue 0
  adjustHue(px, 0, 3, 3, 1 / 3); // → pure green
  assert.deepEqual(
    Array.from(px, (v) => Math.round(v * 1e6) / 1e6),
    [0, 1, 0],
  );
  const p = Float32Array.from([200 / 255, 17 / 255]);
  posterize(p, 0, 2, 4);
  assert.deepEqual(
    Array.from(p, (v) => Math.round(v * 255)),
    [192, 16],
  );
  const s = Float32Array.from([100 / 255, 200 / 255]);
  solarize(s, 0, 2, 128);
  assert.deepEqual(
    Array.from(s, (v) => Math.round(v * 255)),
    [100, 55],
  );
  // Equalize of a two-level image (255 pixels each) spreads it to the ends: step = 255 / 255 = 1,
  // lut[10] = 0 pixels below, lut[20] = 255 pixels below.
  const e = Float32Array.from({ length: 510 }, (_, i) => (i < 255 ? 10 : 20) / 255);
  equalize(e, 0, 510, 1);
  assert.deepEqual([Math.round(e[0]! * 255), Math.round(e[509]! * 255)], [0, 255]);
  // With too few pixels below the top level (step 0) it leaves the image alone, as PIL.
  const few = Float32Array.from([10, 20].map((v) => v / 255));
  equalize(few, 0, 2, 1);
  assert.deepEqual(
    Array.from(few, (v) => Math.round(v * 255)),
    [10, 20],
  );
});

test('presets build valid pipelines with the documented recipe', () => {
  for (const name of AUGMENT_PRESETS) {
    const steps = augmentPreset(name, {
      size: [32, 32],
      mean: [0.5, 0.5, 0.5],
      std: [0.2, 0.2, 0.2],
      blur: true,
    });
    const aug = new Augmenter(steps, { height: 32, width: 32, channels: 3 });
    assert.equal(aug.apply(randomImages(2, 32, 32, 3), 2, { views: 2 }).length, 2 * 2 * 32 * 32 * 3);
  }
  const supcon = augmentPreset('supcon', { size: [32, 32] });
  assert.deepEqual(supcon[2], {
    op: 'colorJitter',
    brightness: 0.4,
    contrast: 0.4,
    saturation: 0.4,
    hue: 0.1,
    p: 0.8,
  });
  assert.deepEqual(supcon[0], {
    op: 'randomResizedCrop',
    size: [32, 32],
    scale: [0.2, 1],
    ratio: [3 / 4, 4 / 3],
  });
});

test('flip probability and grayscale probability are honoured over many draws', () => {
  const img = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => (i * 37) % 256);
  const aug = new Augmenter(
    [
      { op: 'horizontalFlip', p: 0.3 },
      { op: 'randomGrayscale', p: 0.6 },
    ],
    { height: 4, width: 4, channels: 3 },
  );
  let flipped = 0;
  let gray = 0;
  const n = 4000;
  const out = aug.apply(
    new Uint8Array(n * 48).map((_, i) => img[i % 48]!),
    n,
    { seed: 2 },
  );
  for (let k = 0; k < n; k++) {
    const o = out.subarray(k * 48, (k + 1) * 48);
    if (o[0] === o[1] && o[1] === o[2]) gray++;
    const first = [o[0], o[1], o[2]];
    const lastOfRow = [o[9], o[10], o[11]];
    const g = (a: number, b: number, c: number) => 0.2989 * a + 0.587 * b + 0.114 * c;
    if (
      Math.abs(g(first[0]!, first[1]!, first[2]!) - g(img[9]! / 255, img[10]! / 255, img[11]! / 255)) <
        1e-4 &&
      lastOfRow.length
    )
      flipped++;
  }
  assert.ok(Math.abs(flipped / n - 0.3) < 0.04, `flip rate ${flipped / n}`);
  assert.ok(Math.abs(gray / n - 0.6) < 0.04, `grayscale rate ${gray / n}`);
});

test('bad steps are argument errors naming the step', () => {
  const input = { height: 8, width: 8, channels: 3 };
  const bad: [AugmentStep[], RegExp][] = [
    [[{ op: 'horizontalFlip', p: 2 }], /steps\[0\]\.p/],
    [[{ op: 'horizontalFlip' }, { op: 'resize', size: [4, 4] }], /steps\[1\]\.op/],
    [[{ op: 'gaussianBlur', kernelSize: 4 }], /kernelSize/],
    [[{ op: 'colorJitter', hue: 0.7 }], /hue/],
    [[{ op: 'normalize', mean: [0.5], std: [0.5] }], /mean/],
    [[{ op: 'randAugment', magnitude: 31 }], /magnitude/],
    [[{ op: 'spin' } as unknown as AugmentStep], /op/],
  ];
  for (const [steps, pattern] of bad) {
    assert.throws(
      () => new Augmenter(steps, input),
      (e: unknown) => e instanceof InvalidArgumentError && pattern.test(e.message),
    );
  }
  assert.throws(() => new Augmenter([], { height: 8, width: 8, channels: 2 }), InvalidArgumentError);
  assert.throws(() => new Augmenter([], input).apply(new Uint8Array(10), 1), InvalidArgumentError);
  assert.notEqual(hashSeed(1, 2, 3), hashSeed(1, 3, 2));
});
