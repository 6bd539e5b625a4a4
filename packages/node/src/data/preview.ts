/**
 * `supcon data preview`: a grid with one row per sample: the original (resized to the output
 * size) followed by its augmented views, so a person can see what the model sees.
 */
import { Augmenter, type AugmentStep } from 'supcon';
import type { ImageSet } from './image-set.js';
import { encodePng } from './png.js';

export interface PreviewOptions {
  /** Pipeline without normalisation (values in [0, 1]). */
  steps: AugmentStep[];
  /** Sample indices, one row each. */
  indices: number[];
  views: number;
  seed?: number;
  /** Pixel magnification (nearest), default 4. */
  scale?: number;
}

/** PNG bytes of the preview grid. */
export function previewGrid(set: ImageSet, options: PreviewOptions): Buffer {
  const { indices, views, seed = 0, scale = 4 } = options;
  const input = { height: set.height, width: set.width, channels: set.channels };
  const aug = new Augmenter(options.steps, input);
  const { height: h, width: w, channels: c } = aug.output;
  const originals = new Augmenter([{ op: 'resize', size: [h, w] }], input).applyAt(set.images, indices);
  const augmented = aug.applyAt(set.images, indices, { views, seed });
  const gap = 2;
  const cols = 1 + views;
  const cellW = w * scale;
  const cellH = h * scale;
  const W = cols * cellW + (cols + 1) * gap + gap; // an extra gap after the original column
  const H = indices.length * cellH + (indices.length + 1) * gap;
  const out = new Uint8Array(W * H * c).fill(255);
  const put = (src: Float32Array, offset: number, row: number, col: number) => {
    const x0 = gap + col * (cellW + gap) + (col > 0 ? gap : 0);
    const y0 = gap + row * (cellH + gap);
    for (let y = 0; y < cellH; y++) {
      for (let x = 0; x < cellW; x++) {
        const s = offset + (Math.floor(y / scale) * w + Math.floor(x / scale)) * c;
        const d = ((y0 + y) * W + x0 + x) * c;
        for (let ch = 0; ch < c; ch++) out[d + ch] = Math.round(Math.min(1, Math.max(0, src[s + ch]!)) * 255);
      }
    }
  };
  const size = h * w * c;
  indices.forEach((_, r) => {
    put(originals, r * size, r, 0);
    for (let v = 0; v < views; v++) put(augmented, (r * views + v) * size, r, 1 + v);
  });
  return encodePng(out, W, H, c as 1 | 3);
}

/** The first sample of each class, cycling through classes, `rows` in all. */
export function onePerClass(labels: Int32Array, rows: number): number[] {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    const list = byClass.get(l) ?? [];
    if (list.length < rows) list.push(i);
    byClass.set(l, list);
  }
  const classes = [...byClass.keys()].sort((a, b) => a - b);
  const picked: number[] = [];
  for (let k = 0; picked.length < Math.min(rows, labels.length); k++) {
    const list = byClass.get(classes[k % classes.length]!)!;
    const i = list[Math.floor(k / classes.length)];
    if (i !== undefined) picked.push(i);
    if (k > rows * classes.length) break;
  }
  return picked;
}
