/**
 * The math of the /search page, kept free of the DOM so Node tests run it too: unit-length rows,
 * exact cosine top-k against a gallery, and RGBA → grey pixels for a query image.
 */

/** Scales each of the `rows` rows of `x` ([rows, dim], row-major) to unit length, in place. */
export function normalizeRows(x: Float32Array, dim: number): Float32Array {
  for (let r = 0; r * dim < x.length; r++) {
    let sum = 0;
    for (let j = 0; j < dim; j++) sum += x[r * dim + j]! ** 2;
    const inv = sum > 0 ? 1 / Math.sqrt(sum) : 0;
    for (let j = 0; j < dim; j++) x[r * dim + j]! *= inv;
  }
  return x;
}

export interface Neighbour {
  /** Row of the gallery. */
  index: number;
  /** Cosine similarity to the query, in [-1, 1]. */
  score: number;
}

/**
 * The `k` gallery rows most similar to `query` by cosine similarity, best first (ties: lower index
 * first). `gallery` [n, dim] and `query` [dim] must already be unit length (`normalizeRows`), so
 * the cosine is a dot product. Exact search: n·dim multiply-adds, a few ms for 10k × 128.
 */
export function topK(gallery: Float32Array, query: Float32Array, k: number): Neighbour[] {
  const dim = query.length;
  const n = gallery.length / dim;
  const scores = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += gallery[i * dim + j]! * query[j]!;
    scores[i] = dot;
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return order.slice(0, Math.min(k, n)).map((index) => ({ index, score: scores[index]! }));
}

/**
 * Grey values 0–255 of RGBA pixels (ITU-R 601 luma), composited over black as Fashion-MNIST's
 * backgrounds are. `invert`: 255 − grey, for a dark object photographed on a light background.
 */
export function toGrey(rgba: ArrayLike<number>, invert = false): Uint8Array {
  const out = new Uint8Array(rgba.length / 4);
  for (let i = 0; i < out.length; i++) {
    const a = rgba[4 * i + 3]! / 255;
    const y = a * (0.299 * rgba[4 * i]! + 0.587 * rgba[4 * i + 1]! + 0.114 * rgba[4 * i + 2]!);
    out[i] = Math.round(invert ? 255 - y : y);
  }
  return out;
}

/** Mean grey of the outermost ring of a `size`×`size` image: above 127 means a light background. */
export function borderMean(grey: Uint8Array, size: number): number {
  let sum = 0;
  let count = 0;
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++)
      if (y === 0 || x === 0 || y === size - 1 || x === size - 1) {
        sum += grey[y * size + x]!;
        count++;
      }
  return sum / count;
}

/** The centred square of a `width`×`height` image: [sx, sy, side] for `drawImage`. */
export function centreSquare(width: number, height: number): [number, number, number] {
  const side = Math.min(width, height);
  return [Math.floor((width - side) / 2), Math.floor((height - side) / 2), side];
}
