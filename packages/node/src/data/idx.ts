/**
 * IDX files (the MNIST format, http://yann.lecun.com/exdb/mnist/), gzipped or plain.
 * Header: two zero bytes, a type byte (0x08 = unsigned byte, the only type these datasets use),
 * the number of dimensions, then each dimension as a big-endian uint32; the data follows.
 * Every size is checked against the header before anything is allocated, so a damaged file
 * is reported, never half-read.
 */
import { gunzipSync } from 'node:zlib';
import { DatasetError } from './errors.js';
import type { ImageSet } from './image-set.js';

/** Refuse to inflate more than this: no real IDX file comes near it, a gzip bomb would. */
const MAX_INFLATED_BYTES = 1 << 30;

export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/** Inflates `bytes` when they start with the gzip magic number, else returns them. */
export function maybeGunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      return gunzipSync(bytes, { maxOutputLength: MAX_INFLATED_BYTES });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new DatasetError(file, `it is not a valid gzip stream (${reason.replace(/\.$/, '')})`);
    }
  }
  return bytes;
}

/** Parses one IDX file of unsigned bytes with `expectedDims` dimensions. */
export function parseIdx(raw: Uint8Array, file: string, expectedDims: number): IdxArray {
  const bytes = maybeGunzip(raw, file);
  if (bytes.length < 4)
    throw new DatasetError(file, `it holds ${bytes.length} bytes, fewer than the 4-byte IDX magic number`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
    throw new DatasetError(file, `wrong magic number 0x${magic}: an IDX file starts with 0x0000`);
  }
  if (bytes[2] !== 0x08) {
    throw new DatasetError(
      file,
      `IDX data type 0x${bytes[2]!.toString(16).padStart(2, '0')} is not supported (expected 0x08, unsigned byte)`,
    );
  }
  const dims = bytes[3]!;
  if (dims !== expectedDims) {
    throw new DatasetError(
      file,
      `it has ${dims} dimensions but ${expectedDims} were expected (${expectedDims === 1 ? 'labels' : 'images'})`,
    );
  }
  const headerBytes = 4 + 4 * dims;
  if (bytes.length < headerBytes) {
    throw new DatasetError(
      file,
      `it is truncated inside the header (${bytes.length} bytes, the header needs ${headerBytes})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let size = 1;
  for (let d = 0; d < dims; d++) {
    const n = view.getUint32(4 + 4 * d, false);
    shape.push(n);
    size *= n;
  }
  if (dims > 1 && shape.slice(1).some((n) => n === 0)) {
    throw new DatasetError(file, `the header declares an empty item shape [${shape.join(', ')}]`);
  }
  const expected = headerBytes + size;
  if (bytes.length < expected) {
    throw new DatasetError(
      file,
      `it is truncated: the header declares shape [${shape.join(', ')}] (${expected} bytes) but the file holds ${bytes.length}`,
    );
  }
  if (bytes.length > expected) {
    throw new DatasetError(
      file,
      `it has ${bytes.length - expected} unexpected bytes after the ${expected} that its header [${shape.join(', ')}] declares`,
    );
  }
  return { shape, data: bytes.subarray(headerBytes) };
}

/**
 * Combines an images file `[n, h, w]` and a labels file `[n]` into an ImageSet, checking the
 * counts agree and every label is below `classes`.
 */
export function parseIdxPair(
  imagesRaw: Uint8Array,
  imagesFile: string,
  labelsRaw: Uint8Array,
  labelsFile: string,
  classes: number,
): ImageSet {
  const images = parseIdx(imagesRaw, imagesFile, 3);
  const labels = parseIdx(labelsRaw, labelsFile, 1);
  const [count, height, width] = images.shape as [number, number, number];
  if (count === 0) throw new DatasetError(imagesFile, 'it holds no images');
  if (labels.shape[0] !== count) {
    throw new DatasetError(
      labelsFile,
      `it holds ${labels.shape[0]} labels but \`${imagesFile}\` holds ${count} images`,
    );
  }
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const l = labels.data[i]!;
    if (l >= classes)
      throw new DatasetError(labelsFile, `label ${l} at index ${i} is outside 0..${classes - 1}`);
    out[i] = l;
  }
  // Copy so the set does not pin the (possibly much larger) inflated buffer's header.
  return { images: images.data.slice(), labels: out, count, height, width, channels: 1 };
}
