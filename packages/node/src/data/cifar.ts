/**
 * CIFAR-10 and CIFAR-100 binary versions (https://www.cs.toronto.edu/~kriz/cifar.html).
 * CIFAR-10 record: 1 label byte + 3072 pixel bytes; CIFAR-100 record: coarse label byte,
 * fine label byte, 3072 pixel bytes. Pixels are planar (1024 red, 1024 green, 1024 blue,
 * rows top to bottom); we convert to interleaved NHWC.
 */
import { DatasetError } from './errors.js';
import type { ImageSet } from './image-set.js';

const PIXELS = 32 * 32;

export interface CifarFormat {
  kind: 'cifar10' | 'cifar100';
  /** Exact number of records the file must hold (the official files: 10000, 50000 or 10000). */
  records: number;
}

export function parseCifar(bytes: Uint8Array, file: string, format: CifarFormat): ImageSet {
  const labelBytes = format.kind === 'cifar10' ? 1 : 2;
  const recordBytes = labelBytes + 3 * PIXELS;
  if (bytes.length === 0) throw new DatasetError(file, 'it is empty');
  if (bytes.length % recordBytes !== 0) {
    throw new DatasetError(
      file,
      `its size ${bytes.length} is not a multiple of the ${recordBytes}-byte ${format.kind} record (truncated or not a ${format.kind} binary file)`,
    );
  }
  const count = bytes.length / recordBytes;
  if (count !== format.records) {
    throw new DatasetError(file, `it holds ${count} records but ${format.records} were expected`);
  }
  const images = new Uint8Array(count * 3 * PIXELS);
  const labels = new Int32Array(count);
  const coarse = format.kind === 'cifar100' ? new Int32Array(count) : undefined;
  const fineClasses = format.kind === 'cifar10' ? 10 : 100;
  for (let i = 0; i < count; i++) {
    const base = i * recordBytes;
    const fine = bytes[base + labelBytes - 1]!;
    if (fine >= fineClasses) {
      throw new DatasetError(
        file,
        `${coarse ? 'fine ' : ''}label ${fine} of record ${i} is outside 0..${fineClasses - 1}`,
      );
    }
    labels[i] = fine;
    if (coarse) {
      const c = bytes[base]!;
      if (c >= 20) throw new DatasetError(file, `coarse label ${c} of record ${i} is outside 0..19`);
      coarse[i] = c;
    }
    const src = base + labelBytes;
    const dst = i * 3 * PIXELS;
    for (let p = 0; p < PIXELS; p++) {
      images[dst + 3 * p] = bytes[src + p]!;
      images[dst + 3 * p + 1] = bytes[src + PIXELS + p]!;
      images[dst + 3 * p + 2] = bytes[src + 2 * PIXELS + p]!;
    }
  }
  const set: ImageSet = { images, labels, count, height: 32, width: 32, channels: 3 };
  if (coarse) set.coarseLabels = coarse;
  return set;
}

/** Concatenates splits of the same image shape (the five CIFAR-10 training batches). */
export function concatSets(sets: ImageSet[]): ImageSet {
  const first = sets[0]!;
  const size = first.height * first.width * first.channels;
  const count = sets.reduce((n, s) => n + s.count, 0);
  const images = new Uint8Array(count * size);
  const labels = new Int32Array(count);
  const coarse = first.coarseLabels ? new Int32Array(count) : undefined;
  let at = 0;
  for (const s of sets) {
    images.set(s.images, at * size);
    labels.set(s.labels, at);
    if (coarse && s.coarseLabels) coarse.set(s.coarseLabels, at);
    at += s.count;
  }
  const out: ImageSet = {
    images,
    labels,
    count,
    height: first.height,
    width: first.width,
    channels: first.channels,
  };
  if (coarse) out.coarseLabels = coarse;
  return out;
}
