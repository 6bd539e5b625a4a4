/**
 * Random erasing's sampling, against torchvision 0.14's RandomErasing.get_params (the fill itself,
 * `erase`, is compared value by value with F.erase in augment-reference.test.ts). The two libraries
 * draw different random numbers, so the sampling is compared in distribution: torchvision's moments
 * of the box height, width and area fraction and its fallback count over 20,000 draws
 * (`erasingSampling` in augment-fixtures.json, from reference/torch_augment.py fixtures) against ours
 * over as many, within 4.5 standard errors of the difference.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  Augmenter,
  type AugmentStep,
  type EraseBox,
  type EraseValue,
  hashSeed,
  InvalidArgumentError,
  Random,
  randomErase,
  sampleErase,
} from 'supcon';

interface Moments {
  mean: number;
  var: number;
}
interface Sampling {
  height: number;
  width: number;
  scale: [number, number];
  ratio: [number, number];
  draws: number;
  fallback: number;
  h: Moments;
  w: Moments;
  fraction: Moments;
}
const { erasingSampling } = JSON.parse(
  readFileSync(new URL('../test/augment-fixtures.json', import.meta.url), 'utf8'),
) as { erasingSampling: Sampling[] };

function moments(xs: number[]): Moments {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return { mean, var: xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1) };
}

/** Our boxes for a setting, one stream per draw as the pipeline has one per view. */
function draws(s: Pick<Sampling, 'height' | 'width' | 'scale' | 'ratio'>, n: number, seed = 1) {
  const boxes: EraseBox[] = [];
  let fallback = 0;
  for (let k = 0; k < n; k++) {
    const box = sampleErase(new Random(hashSeed(seed, k)), s.height, s.width, s.scale, s.ratio);
    if (box === null) fallback++;
    else boxes.push(box);
  }
  return { boxes, fallback };
}

for (const ref of erasingSampling) {
  const label = `${ref.height}×${ref.width}, scale ${ref.scale}, ratio ${ref.ratio}`;
  test(`erasing boxes on ${label} are distributed as torchvision's`, () => {
    const { boxes, fallback } = draws(ref, ref.draws);
    const n = ref.draws;
    // Fallback rate: two binomial proportions.
    const pooled = (fallback + ref.fallback) / (2 * n);
    const seFallback = Math.sqrt((2 * pooled * (1 - pooled)) / n);
    assert.ok(
      Math.abs(fallback - ref.fallback) / n <= 4.5 * seFallback + 1e-12,
      `fallbacks: ours ${fallback}, torchvision ${ref.fallback} of ${n}`,
    );
    const ours = {
      h: moments(boxes.map((b) => b[2])),
      w: moments(boxes.map((b) => b[3])),
      fraction: moments(boxes.map((b) => (b[2] * b[3]) / (ref.height * ref.width))),
    };
    for (const key of ['h', 'w', 'fraction'] as const) {
      const se = Math.sqrt(ours[key].var / boxes.length + ref[key].var / (n - ref.fallback));
      const d = ours[key].mean - ref[key].mean;
      assert.ok(
        Math.abs(d) <= 4.5 * se,
        `${key}: mean ${ours[key].mean} vs torchvision ${ref[key].mean} (${(d / se).toFixed(1)} SE)`,
      );
    }
    for (const [top, left, h, w] of boxes) {
      assert.ok(h < ref.height && w < ref.width, `box ${h}×${w} not strictly inside`);
      assert.ok(top >= 0 && left >= 0 && top + h <= ref.height && left + w <= ref.width);
    }
  });
}

test('every box is a rounding of an area in scale and an aspect h/w in ratio, and they cover both ranges', () => {
  for (const s of [
    { height: 28, width: 28, scale: [0.02, 0.33] as [number, number], ratio: [0.3, 3.3] as [number, number] },
    { height: 300, width: 400, scale: [0.1, 0.2] as [number, number], ratio: [0.5, 0.8] as [number, number] },
  ]) {
    const { boxes } = draws(s, 4000, 2);
    const area = s.height * s.width;
    let [minFraction, maxFraction, minAspect, maxAspect] = [1, 0, Number.POSITIVE_INFINITY, 0];
    for (const [, , h, w] of boxes) {
      // h = round(√(a·r)), w = round(√(a/r)): |h·w − a| ≤ (h + w + 1)/2 + 1/4, and h/w within
      // [(h − ½)/(w + ½), (h + ½)/(w − ½)] of r.
      const slack = (h + w + 1) / 2 + 0.25;
      assert.ok(h * w + slack >= s.scale[0] * area && h * w - slack <= s.scale[1] * area, `${h}×${w}`);
      assert.ok((h + 0.5) / (w - 0.5) >= s.ratio[0] && (h - 0.5) / (w + 0.5) <= s.ratio[1], `${h}×${w}`);
      minFraction = Math.min(minFraction, (h * w) / area);
      maxFraction = Math.max(maxFraction, (h * w) / area);
      minAspect = Math.min(minAspect, h / w);
      maxAspect = Math.max(maxAspect, h / w);
    }
    if (s.height === 300) {
      // On a large image rounding is negligible: the ranges themselves, nearly filled.
      assert.ok(minFraction >= 0.099 && minFraction < 0.102, `min fraction ${minFraction}`);
      assert.ok(maxFraction <= 0.201 && maxFraction > 0.198, `max fraction ${maxFraction}`);
      assert.ok(minAspect >= 0.49 && minAspect < 0.51, `min aspect ${minAspect}`);
      assert.ok(maxAspect <= 0.81 && maxAspect > 0.79, `max aspect ${maxAspect}`);
    }
  }
});

test('no box fits in 10 attempts: nothing is erased', () => {
  // Area 1 and aspect 1 always give the whole image, which is not strictly inside it.
  for (let k = 0; k < 50; k++) assert.equal(sampleErase(new Random(k), 12, 12, [1, 1], [1, 1]), null);
  const images = Float32Array.from({ length: 20 * 12 * 12 }, (_, i) => (i % 7) / 7);
  const aug = new Augmenter([{ op: 'randomErasing', p: 1, scale: [1, 1], ratio: [1, 1], value: -3 }], {
    height: 12,
    width: 12,
    channels: 1,
  });
  assert.deepEqual(aug.apply(images, 20, { seed: 4 }), images);
});

/** How many of `n` constant images a pipeline changed. */
function erasedCount(steps: AugmentStep[], n: number, seed: number): number {
  const size = 28 * 28;
  const images = new Float32Array(n * size).fill(0.5);
  const out = new Augmenter(steps, { height: 28, width: 28, channels: 1 }).apply(images, n, { seed });
  let changed = 0;
  for (let i = 0; i < n; i++) if (out.subarray(i * size, (i + 1) * size).some((v) => v !== 0.5)) changed++;
  return changed;
}

test('the rate of erased images is p (binomial bound over 4,000 images), 0 and 1 exactly', () => {
  const n = 4000;
  // Scale up to 0.2 of 28×28: √(0.2·784·3.3) < 27.5, so a box always fits and erased ⇔ drawn.
  const steps = (p: number): AugmentStep[] => [{ op: 'randomErasing', p, scale: [0.02, 0.2], value: -1 }];
  for (const p of [0.3, 0.5, 0.8]) {
    const rate = erasedCount(steps(p), n, 9) / n;
    assert.ok(Math.abs(rate - p) <= 4.5 * Math.sqrt((p * (1 - p)) / n), `p ${p}: rate ${rate}`);
  }
  assert.equal(erasedCount(steps(0), 500, 9), 0);
  assert.equal(erasedCount(steps(1), 500, 9), 500);
});

const FILLS: EraseValue[] = [2.5, [-1, 0, 1], 'random'];

test('fills: a number, one per channel, or standard-normal values; nothing outside the box changes', () => {
  const [h, w] = [20, 16];
  const options = { p: 1, scale: [0.1, 0.3] as [number, number], ratio: [0.5, 2] as [number, number] };
  const randomValues: number[] = [];
  for (let k = 0; k < 300; k++) {
    for (const value of FILLS) {
      const img = new Float32Array(h * w * 3).fill(7);
      const box = randomErase(new Random(hashSeed(k)), { ...options, value }, img, 0, h, w, 3);
      assert.ok(box !== null);
      const [top, left, eh, ew] = box;
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          for (let ch = 0; ch < 3; ch++) {
            const v = img[(y * w + x) * 3 + ch]!;
            const inside = y >= top && y < top + eh && x >= left && x < left + ew;
            if (!inside) assert.equal(v, 7);
            else if (value === 'random') randomValues.push(v);
            else assert.equal(v, typeof value === 'number' ? value : value[ch]);
          }
    }
  }
  const { mean, var: variance } = moments(randomValues);
  const se = 1 / Math.sqrt(randomValues.length);
  assert.ok(Math.abs(mean) < 4.5 * se, `random fill mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 4.5 * Math.SQRT2 * se, `random fill variance ${variance}`);
});

test('after normalize, a fill of 0 is the mean; seeded like every step', () => {
  const steps: AugmentStep[] = [
    { op: 'randomResizedCrop', size: [28, 28], scale: [0.6, 1] },
    { op: 'normalize', mean: [0.25], std: [0.5] },
    { op: 'randomErasing', p: 0.5 },
  ];
  const images = Uint8Array.from({ length: 8 * 28 * 28 }, (_, i) => (i * 37) % 256);
  const aug = new Augmenter(steps, { height: 28, width: 28, channels: 1 });
  const a = aug.apply(images, 8, { views: 2, seed: 3, epoch: 1 });
  assert.deepEqual(aug.apply(images, 8, { views: 2, seed: 3, epoch: 1 }), a);
  assert.notDeepEqual(aug.apply(images, 8, { views: 2, seed: 3, epoch: 2 }), a);
  // Batch-independent: the last 3 samples alone, with their indices, give the same views.
  const tail = aug.apply(images.subarray(5 * 784), 3, { views: 2, seed: 3, epoch: 1, indices: [5, 6, 7] });
  assert.deepEqual(tail, a.subarray(5 * 2 * 784));
  // Without erasing, the same stream gives the same crops: erased views differ only by zeros.
  const plain = new Augmenter(steps.slice(0, 2), { height: 28, width: 28, channels: 1 }).apply(images, 8, {
    views: 2,
    seed: 3,
    epoch: 1,
  });
  let erasedViews = 0;
  for (let v = 0; v < 16; v++) {
    let zeros = 0;
    for (let i = v * 784; i < (v + 1) * 784; i++) {
      if (a[i] !== plain[i]) {
        assert.equal(a[i], 0);
        zeros++;
      }
    }
    if (zeros > 0) erasedViews++;
  }
  assert.ok(erasedViews > 0 && erasedViews < 16, `${erasedViews} of 16 views erased`);
});

test('bad erasing parameters are refused naming the step', () => {
  const shape = { height: 28, width: 28, channels: 3 };
  const cases: [AugmentStep, RegExp][] = [
    [
      { op: 'randomErasing', p: 1.5 },
      /`steps\[0\]\.p`. Expected a probability in \[0, 1\]. Received: steps\[0\]\.p=1.5/,
    ],
    [
      { op: 'randomErasing', scale: [0.4, 0.1] },
      /`steps\[0\]\.scale`. Expected \[min, max\] with 0 <= min <= max <= 1/,
    ],
    [{ op: 'randomErasing', ratio: [0, 2] }, /`steps\[0\]\.ratio`/],
    [
      { op: 'randomErasing', value: [1, 2] },
      /`steps\[0\]\.value`. Expected a number, 3 per-channel numbers or "random"/,
    ],
    [{ op: 'randomErasing', value: 'noise' as never }, /`steps\[0\]\.value`/],
  ];
  for (const [step, message] of cases)
    assert.throws(
      () => new Augmenter([step], shape),
      (e: unknown) => e instanceof InvalidArgumentError && message.test(e.message),
    );
});
