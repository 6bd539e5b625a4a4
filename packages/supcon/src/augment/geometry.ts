/**
 * Geometric operations on one HWC image. Sampling conventions follow torchvision's tensor path
 * (bilinear with align_corners=false and no antialiasing; nearest for affine warps, fill 0), so
 * results match it to float rounding (see test/augment-reference.test.ts).
 */

/** Source pixels are uint8 0..255 (scaled by 1/255) or float 0..1. */
export type Pixels = Uint8Array | Uint8ClampedArray | Float32Array;

/** Reusable index/weight tables so crops allocate nothing per image. */
export class CropTables {
  x0 = new Int32Array(0);
  x1 = new Int32Array(0);
  lx = new Float32Array(0);
  ensure(n: number): void {
    if (this.x0.length < n) {
      this.x0 = new Int32Array(n);
      this.x1 = new Int32Array(n);
      this.lx = new Float32Array(n);
    }
  }
}

/**
 * Crops [top, top+cropH) × [left, left+cropW) of `src` and resizes it bilinearly to outH × outW,
 * writing floats in [0, 1] to `out` at `outOffset`. Source index of output pixel x:
 * max((x + 0.5) · cropW/outW − 0.5, 0), as torch.nn.functional.interpolate(align_corners=False).
 */
export function resizedCrop(
  src: Pixels,
  srcOffset: number,
  srcWidth: number,
  channels: number,
  top: number,
  left: number,
  cropH: number,
  cropW: number,
  outH: number,
  outW: number,
  out: Float32Array,
  outOffset: number,
  tables: CropTables = new CropTables(),
): void {
  const scale = src instanceof Float32Array ? 1 : 1 / 255;
  tables.ensure(outW);
  const { x0, x1, lx } = tables;
  const sw = cropW / outW;
  for (let x = 0; x < outW; x++) {
    const s = Math.max((x + 0.5) * sw - 0.5, 0);
    const i = Math.floor(s);
    x0[x] = (left + i) * channels;
    x1[x] = (left + i + (i < cropW - 1 ? 1 : 0)) * channels;
    lx[x] = s - i;
  }
  const sh = cropH / outH;
  const rowStride = srcWidth * channels;
  let o = outOffset;
  for (let y = 0; y < outH; y++) {
    const s = Math.max((y + 0.5) * sh - 0.5, 0);
    const i = Math.floor(s);
    const ly = s - i;
    const r0 = srcOffset + (top + i) * rowStride;
    const r1 = srcOffset + (top + i + (i < cropH - 1 ? 1 : 0)) * rowStride;
    const wy0 = (1 - ly) * scale;
    const wy1 = ly * scale;
    if (channels === 1) {
      for (let x = 0; x < outW; x++) {
        const a = x0[x]!;
        const b = x1[x]!;
        const l = lx[x]!;
        const t = src[r0 + a]! + l * (src[r0 + b]! - src[r0 + a]!);
        const u = src[r1 + a]! + l * (src[r1 + b]! - src[r1 + a]!);
        out[o++] = t * wy0 + u * wy1;
      }
      continue;
    }
    if (channels === 3) {
      // Unrolled: the same arithmetic per channel, without the inner loop.
      for (let x = 0; x < outW; x++) {
        const a = r0 + x0[x]!;
        const b = r0 + x1[x]!;
        const c = r1 + x0[x]!;
        const d = r1 + x1[x]!;
        const l = lx[x]!;
        let t = src[a]! + l * (src[b]! - src[a]!);
        let u = src[c]! + l * (src[d]! - src[c]!);
        out[o++] = t * wy0 + u * wy1;
        t = src[a + 1]! + l * (src[b + 1]! - src[a + 1]!);
        u = src[c + 1]! + l * (src[d + 1]! - src[c + 1]!);
        out[o++] = t * wy0 + u * wy1;
        t = src[a + 2]! + l * (src[b + 2]! - src[a + 2]!);
        u = src[c + 2]! + l * (src[d + 2]! - src[c + 2]!);
        out[o++] = t * wy0 + u * wy1;
      }
      continue;
    }
    for (let x = 0; x < outW; x++) {
      const a = x0[x]!;
      const b = x1[x]!;
      const l = lx[x]!;
      for (let ch = 0; ch < channels; ch++) {
        const top = src[r0 + a + ch]! + l * (src[r0 + b + ch]! - src[r0 + a + ch]!);
        const bottom = src[r1 + a + ch]! + l * (src[r1 + b + ch]! - src[r1 + a + ch]!);
        out[o++] = top * wy0 + bottom * wy1;
      }
    }
  }
}

/** Mirrors an image left–right in place. */
export function horizontalFlip(img: Float32Array, offset: number, h: number, w: number, c: number): void {
  for (let y = 0; y < h; y++) {
    let a = offset + y * w * c;
    let b = a + (w - 1) * c;
    while (a < b) {
      for (let ch = 0; ch < c; ch++) {
        const t = img[a + ch]!;
        img[a + ch] = img[b + ch]!;
        img[b + ch] = t;
      }
      a += c;
      b -= c;
    }
  }
}

/**
 * torchvision's inverse affine matrix (output → input, coordinates relative to `center`, which is
 * itself relative to the image centre): rotation by `angle` degrees, translation, scale, shear in
 * degrees.
 */
export function inverseAffineMatrix(
  center: [number, number],
  angle: number,
  translate: [number, number],
  scale: number,
  shear: [number, number],
): number[] {
  const rot = (angle * Math.PI) / 180;
  const sx = (shear[0] * Math.PI) / 180;
  const sy = (shear[1] * Math.PI) / 180;
  const [cx, cy] = center;
  const [tx, ty] = translate;
  const a = Math.cos(rot - sy) / Math.cos(sy);
  const b = (-Math.cos(rot - sy) * Math.tan(sx)) / Math.cos(sy) - Math.sin(rot);
  const c = Math.sin(rot - sy) / Math.cos(sy);
  const d = (-Math.sin(rot - sy) * Math.tan(sx)) / Math.cos(sy) + Math.cos(rot);
  const m = [d / scale, -b / scale, 0, -c / scale, a / scale, 0];
  m[2] = m[0]! * (-cx - tx) + m[1]! * (-cy - ty) + cx;
  m[5] = m[3]! * (-cx - tx) + m[4]! * (-cy - ty) + cy;
  return m;
}

/** Round half to even, as torch's nearest grid sampling (nearbyint). */
function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Warps `img` by an inverse affine matrix (see inverseAffineMatrix) with nearest sampling and
 * zero fill, using `scratch` (same size) as the destination before copying back.
 */
export function affineNearest(
  img: Float32Array,
  offset: number,
  h: number,
  w: number,
  c: number,
  m: number[],
  scratch: Float32Array,
): void {
  const [m0, m1, m2, m3, m4, m5] = m as [number, number, number, number, number, number];
  let o = 0;
  for (let y = 0; y < h; y++) {
    const yc = y + 0.5 - h / 2;
    for (let x = 0; x < w; x++) {
      const xc = x + 0.5 - w / 2;
      const ix = roundEven(m0 * xc + m1 * yc + m2 + w / 2 - 0.5);
      const iy = roundEven(m3 * xc + m4 * yc + m5 + h / 2 - 0.5);
      if (ix >= 0 && ix < w && iy >= 0 && iy < h) {
        const s = offset + (iy * w + ix) * c;
        for (let ch = 0; ch < c; ch++) scratch[o++] = img[s + ch]!;
      } else {
        for (let ch = 0; ch < c; ch++) scratch[o++] = 0;
      }
    }
  }
  img.set(scratch.subarray(0, h * w * c), offset);
}
