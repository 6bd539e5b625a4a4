/**
 * Corruptions: the deterministic ones against independent references (JPEG: PIL/libjpeg;
 * pixelate and blur: PyTorch; fixtures from `reference/corruption_reference.py`), the noisy ones by
 * their statistics, plus determinism and the errors.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { CORRUPTIONS, type Corruption, corruptImages, parseCorruptions, SEVERITY_PARAMETERS } from 'supcon';

interface Case {
  shape: [number, number, number];
  image: number[];
  jpeg: number[][];
  pixelate: number[][];
  blur: number[][];
}
const cases = JSON.parse(
  readFileSync(new URL('../test/fixtures/corruption-cases.json', import.meta.url), 'utf8'),
) as Case[];

function run(c: Case, corruption: Corruption, severity: number): Uint8Array {
  const [height, width, channels] = c.shape;
  return corruptImages(Uint8Array.from(c.image), { count: 1, height, width, channels }, corruption, severity);
}

function meanAbs(a: ArrayLike<number>, b: ArrayLike<number>): { mean: number; max: number } {
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    max = Math.max(max, d);
  }
  return { mean: sum / a.length, max };
}

describe('deterministic corruptions against PIL and PyTorch', () => {
  for (const [k, c] of cases.entries()) {
    const label = `image ${k} (${c.shape.join('×')})`;
    it(`gaussian-blur equals torchvision's gaussian_blur: ${label}`, () => {
      for (let s = 1; s <= 5; s++)
        assert.ok(meanAbs(run(c, 'gaussian-blur', s), c.blur[s - 1]!).max <= 1, `severity ${s}`);
    });
    it(`pixelate equals torch area + nearest-exact interpolation within one level: ${label}`, () => {
      for (let s = 1; s <= 5; s++)
        assert.ok(meanAbs(run(c, 'pixelate', s), c.pixelate[s - 1]!).max <= 1, `severity ${s}`);
    });
    it(`jpeg is close to libjpeg at the same quality, and closer than at any other: ${label}`, () => {
      const grey = c.shape[2] === 1;
      for (let s = 1; s <= 5; s++) {
        const ours = run(c, 'jpeg', s);
        const own = meanAbs(ours, c.jpeg[s - 1]!).mean;
        const effect = meanAbs(c.image, c.jpeg[s - 1]!).mean; // how far libjpeg moved the image
        assert.ok(own <= (grey ? 1 : 3), `severity ${s}: ${own.toFixed(2)} levels from libjpeg`);
        assert.ok(
          own <= 0.3 * effect,
          `severity ${s}: ${own.toFixed(2)} vs the corruption's ${effect.toFixed(2)}`,
        );
      }
    });
  }
  it('jpeg quality matters: each severity is nearest to libjpeg at its own quality on average', () => {
    for (let s = 1; s <= 5; s++) {
      const distance = (q: number) =>
        cases.reduce((acc, c) => acc + meanAbs(run(c, 'jpeg', s), c.jpeg[q - 1]!).mean, 0);
      const own = distance(s);
      for (const other of [1, 5])
        if (other !== s) assert.ok(own < distance(other), `severity ${s} vs quality of ${other}`);
    }
  });
});

/** A flat mid-grey RGB batch: noise statistics are then easy to predict. */
function flat(value: number, count = 4, side = 32) {
  return {
    images: new Uint8Array(count * side * side * 3).fill(value),
    shape: { count, height: side, width: side, channels: 3 },
  };
}

function stats(out: Uint8Array, base: number) {
  let s = 0;
  let s2 = 0;
  for (const v of out) {
    s += (v - base) / 255;
    s2 += ((v - base) / 255) ** 2;
  }
  const mean = s / out.length;
  return { mean, std: Math.sqrt(s2 / out.length - mean * mean) };
}

describe('noise corruptions by their statistics', () => {
  it('gaussian-noise adds N(0, σ²) with the severity σ', () => {
    const { images, shape } = flat(128);
    for (let s = 1; s <= 5; s++) {
      const sigma = SEVERITY_PARAMETERS['gaussian-noise'][s - 1]!;
      const st = stats(corruptImages(images, shape, 'gaussian-noise', s), 128);
      assert.ok(Math.abs(st.mean) < 0.004, `mean ${st.mean}`);
      assert.ok(Math.abs(st.std / sigma - 1) < 0.05, `severity ${s}: std ${st.std} vs ${sigma}`);
    }
  });
  it('shot-noise is Poisson(x·λ)/λ: mean kept, variance x/λ (both sampler branches)', () => {
    for (const [value, severity] of [
      [128, 1],
      [64, 5],
      [128, 5],
    ] as const) {
      const { images, shape } = flat(value, 8);
      const lambda = SEVERITY_PARAMETERS['shot-noise'][severity - 1]!;
      const st = stats(corruptImages(images, shape, 'shot-noise', severity), value);
      const expectedStd = Math.sqrt(value / 255 / lambda);
      assert.ok(Math.abs(st.mean) < 0.15 * expectedStd, `value ${value}, λ ${lambda}: mean ${st.mean}`);
      assert.ok(
        Math.abs(st.std / expectedStd - 1) < 0.06,
        `value ${value}, λ ${lambda}: std ${st.std} vs ${expectedStd}`,
      );
    }
  });
  it('impulse-noise sets the severity fraction of values to 0 or 255, half each', () => {
    const { images, shape } = flat(100, 8);
    for (let s = 1; s <= 5; s++) {
      const out = corruptImages(images, shape, 'impulse-noise', s);
      const zeros = out.filter((v) => v === 0).length / out.length;
      const ones = out.filter((v) => v === 255).length / out.length;
      const p = SEVERITY_PARAMETERS['impulse-noise'][s - 1]!;
      assert.ok(Math.abs(zeros + ones - p) < 0.15 * p + 0.002, `severity ${s}: ${zeros + ones} vs ${p}`);
      assert.ok(Math.abs(zeros - ones) < 0.25 * p + 0.002, `severity ${s}: ${zeros} zeros vs ${ones} ones`);
      assert.ok(out.every((v) => v === 0 || v === 255 || v === 100));
    }
  });
  it('is deterministic per (seed, image index) and differs between images and seeds', () => {
    const { images, shape } = flat(128, 2);
    const a = corruptImages(images, shape, 'gaussian-noise', 3, { seed: 7 });
    const b = corruptImages(images, shape, 'gaussian-noise', 3, { seed: 7 });
    assert.deepEqual(a, b);
    const size = 32 * 32 * 3;
    assert.notDeepEqual(a.subarray(0, size), a.subarray(size));
    assert.notDeepEqual(a, corruptImages(images, shape, 'gaussian-noise', 3, { seed: 8 }));
    // Image k of a batch is image firstIndex + k on its own.
    const second = corruptImages(images.subarray(size), { ...shape, count: 1 }, 'gaussian-noise', 3, {
      seed: 7,
      firstIndex: 1,
    });
    assert.deepEqual(second, a.subarray(size));
  });
});

describe('photometric corruptions', () => {
  it('contrast pulls every value towards the image mean by the severity factor', () => {
    const images = Uint8Array.from([0, 50, 100, 150, 200, 250]);
    const shape = { count: 1, height: 2, width: 3, channels: 1 };
    const out = corruptImages(images, shape, 'contrast', 3);
    const c = SEVERITY_PARAMETERS.contrast[2]!;
    assert.deepEqual(
      Array.from(out),
      Array.from(images, (v) => Math.round((v - 125) * c + 125)),
    );
  });
  it('brightness raises HSV value and keeps hue and saturation', () => {
    const images = Uint8Array.from([200, 100, 50, 0, 0, 0, 250, 250, 250]);
    const out = corruptImages(images, { count: 1, height: 1, width: 3, channels: 3 }, 'brightness', 2);
    const c = SEVERITY_PARAMETERS.brightness[1]!;
    const f = (200 / 255 + c) / (200 / 255);
    assert.deepEqual(
      Array.from(out.subarray(0, 3)),
      [200, 100, 50].map((v) => Math.round(v * f)),
    );
    assert.deepEqual(
      Array.from(out.subarray(3, 6)),
      [1, 1, 1].map(() => Math.round(255 * c)),
    );
    assert.deepEqual(Array.from(out.subarray(6)), [255, 255, 255]);
  });
  it('every corruption keeps the shape and changes a textured image', () => {
    const c = cases[0]!;
    for (const name of CORRUPTIONS) {
      const out = run(c, name, 5);
      assert.equal(out.length, c.image.length);
      assert.ok(meanAbs(out, c.image).mean > 0.5, name);
    }
  });
});

describe('corruption errors', () => {
  const shape = { count: 1, height: 2, width: 2, channels: 1 };
  const img = new Uint8Array(4);
  it('names the argument, the expectation and the value', () => {
    assert.throws(
      () => corruptImages(img, shape, 'fog' as Corruption, 1),
      /`corruption`.*gaussian-noise.*fog/,
    );
    assert.throws(() => corruptImages(img, shape, 'jpeg', 6), /`severity`.*1 to 5.*6/);
    assert.throws(() => corruptImages(img, { ...shape, channels: 2 }, 'jpeg', 1), /`channels`/);
    assert.throws(
      () => corruptImages(new Uint8Array(3), shape, 'jpeg', 1),
      /`images`.*1×2×2×1 bytes.*3 bytes/,
    );
    assert.throws(() => parseCorruptions('jpeg,snow'), /`corruptions`.*snow/);
    assert.deepEqual(parseCorruptions('all'), [...CORRUPTIONS]);
    assert.deepEqual(parseCorruptions('jpeg, contrast'), ['jpeg', 'contrast']);
  });
});
