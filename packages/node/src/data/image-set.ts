/** The in-memory form of one split of a dataset: uint8 images in NHWC order and int labels. */
export interface ImageSet {
  /** `count * height * width * channels` bytes, NHWC, 0..255. */
  images: Uint8Array;
  /** One class index per image, in `0 .. classes.length - 1`. */
  labels: Int32Array;
  /** CIFAR-100 only: the 20 superclass labels beside the 100 fine ones. */
  coarseLabels?: Int32Array;
  count: number;
  height: number;
  width: number;
  channels: number;
}

/** Number of images of each class, indexed by class. */
export function countPerClass(labels: Int32Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const l of labels) counts[l] = (counts[l] ?? 0) + 1;
  return counts;
}

/** A new ImageSet holding the given samples, in the given order. */
export function subset(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  const size = set.height * set.width * set.channels;
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  const coarse = set.coarseLabels ? new Int32Array(indices.length) : undefined;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k]!;
    images.set(set.images.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = set.labels[i]!;
    if (coarse) coarse[k] = set.coarseLabels![i]!;
  }
  const out: ImageSet = {
    images,
    labels,
    count: indices.length,
    height: set.height,
    width: set.width,
    channels: set.channels,
  };
  if (coarse) out.coarseLabels = coarse;
  return out;
}
