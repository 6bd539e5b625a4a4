/** Test helpers: small valid dataset files built in memory, and a seeded byte mutator. */
import { Random } from 'supcon';

export function idxBytes(shape: number[], data: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  header[2] = 0x08;
  header[3] = shape.length;
  const view = new DataView(header.buffer);
  shape.forEach((n, d) => {
    view.setUint32(4 + 4 * d, n, false);
  });
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

/** A tiny valid MNIST-style pair: `count` images of h×w and labels 0..9. */
export function tinyIdx(
  count: number,
  h: number,
  w: number,
  seed = 1,
): { images: Uint8Array; labels: Uint8Array } {
  const rng = new Random(seed);
  const pixels = Uint8Array.from({ length: count * h * w }, () => rng.int(0, 256));
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  return { images: idxBytes([count, h, w], pixels), labels: idxBytes([count], labels) };
}

/** A tiny valid CIFAR binary file of `records` records. */
export function tinyCifar(kind: 'cifar10' | 'cifar100', records: number, seed = 1): Uint8Array {
  const rng = new Random(seed);
  const labelBytes = kind === 'cifar10' ? 1 : 2;
  const rec = labelBytes + 3072;
  const out = new Uint8Array(records * rec);
  for (let i = 0; i < records; i++) {
    if (kind === 'cifar10') out[i * rec] = i % 10;
    else {
      out[i * rec] = i % 20;
      out[i * rec + 1] = (i * 7) % 100;
    }
    for (let p = 0; p < 3072; p++) out[i * rec + labelBytes + p] = rng.int(0, 256);
  }
  return out;
}

/** One random damage: truncation, byte flips (header-biased), appended bytes, or a rewritten uint32. */
export function mutate(bytes: Uint8Array, rng: Random): Uint8Array {
  const kind = rng.int(0, 5);
  if (kind === 0) return bytes.slice(0, rng.int(0, bytes.length));
  if (kind === 1) {
    const out = bytes.slice();
    const flips = rng.int(1, 4);
    for (let k = 0; k < flips; k++) {
      const at = rng.chance(0.7) ? rng.int(0, Math.min(16, out.length)) : rng.int(0, out.length);
      out[at] = rng.int(0, 256);
    }
    return out;
  }
  if (kind === 2) {
    const extra = Uint8Array.from({ length: rng.int(1, 64) }, () => rng.int(0, 256));
    const out = new Uint8Array(bytes.length + extra.length);
    out.set(bytes);
    out.set(extra, bytes.length);
    return out;
  }
  if (kind === 3) {
    const out = bytes.slice();
    if (out.length >= 8) {
      const at = 4 * rng.int(0, Math.min(4, Math.floor(out.length / 4)));
      const values = [0, 1, 0xffffffff, 0x7fffffff, rng.int(0, 100000), rng.int(0, 1 << 30) * 4];
      new DataView(out.buffer).setUint32(at, values[rng.int(0, values.length)]!, false);
    }
    return out;
  }
  // Label damage: set random bytes past the header to large values.
  const out = bytes.slice();
  for (let k = 0; k < 3; k++) out[rng.int(Math.min(8, out.length - 1), out.length)] = rng.int(10, 256);
  return out;
}
