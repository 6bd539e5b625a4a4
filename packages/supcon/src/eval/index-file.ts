/**
 * The embedding index file: bytes in, bytes out, no file system (so a browser can read one too).
 * Version 1, every number little-endian:
 *
 *   offset  size  field
 *        0     8  magic "SUPCONIX"
 *        8     4  version (uint32, 1)
 *       12     4  dim: values per embedding
 *       16     4  count: items
 *       20     4  metric: 0 cosine, 1 euclidean
 *       24     4  bytes of the item ids (UTF-8, concatenated)
 *       28     4  bytes of the metadata (UTF-8 JSON object)
 *       32     4  CRC-32 (IEEE) of every byte from offset 40 to the end
 *       36     4  reserved, 0
 *       40        embeddings float32 [count, dim] · labels int32 [count] · id ends uint32 [count]
 *                 (where each id ends in the id bytes) · id bytes · metadata
 *
 * A reader checks, in order: the magic, the version, that the length is exactly what the header
 * announces (a truncated or padded file), and the checksum (a damaged one); each failure is one
 * sentence naming the file.
 *
 * @example
 *   const bytes = encodeIndexFile({ embeddings, labels, ids, dim }, 'cosine', { classes });
 *   const { items, metric, metadata } = decodeIndexFile(bytes, 'train.index');
 */
import { check, UserError } from '../errors.js';
import { RETRIEVAL_METRICS, type RetrievalMetric } from './retrieval.js';
import { checkIndexItems, type IndexItems } from './search.js';

export const INDEX_MAGIC = 'SUPCONIX';
export const INDEX_VERSION = 1;
const HEADER_BYTES = 40;

/** An index file that cannot be read: not one, another version, truncated or damaged (exit code 1). */
export class IndexFileError extends UserError {}

export interface DecodedIndex {
  items: IndexItems;
  metric: RetrievalMetric;
  /** What the writer recorded (the encoder, the dataset, class names…). */
  metadata: Record<string, unknown>;
  version: number;
}

/** The bytes of an index file holding `items`, searched by `metric`, with `metadata` (a JSON object). */
export function encodeIndexFile(
  items: IndexItems,
  metric: RetrievalMetric,
  metadata: Record<string, unknown> = {},
): Uint8Array {
  checkIndexItems(items);
  check(RETRIEVAL_METRICS.includes(metric), 'metric', `one of ${RETRIEVAL_METRICS.join(', ')}`, metric);
  const count = items.labels.length;
  const utf8 = new TextEncoder();
  const idBytes = items.ids.map((id) => utf8.encode(id));
  const idTotal = idBytes.reduce((s, b) => s + b.length, 0);
  const meta = utf8.encode(JSON.stringify(metadata));
  const bytes = new Uint8Array(HEADER_BYTES + 4 * count * (items.dim + 2) + idTotal + meta.length);
  const view = new DataView(bytes.buffer);
  bytes.set(utf8.encode(INDEX_MAGIC), 0);
  for (const [offset, value] of [
    [8, INDEX_VERSION],
    [12, items.dim],
    [16, count],
    [20, RETRIEVAL_METRICS.indexOf(metric)],
    [24, idTotal],
    [28, meta.length],
  ] as const)
    view.setUint32(offset, value, true);
  let at = HEADER_BYTES;
  for (const v of items.embeddings) {
    view.setFloat32(at, v, true);
    at += 4;
  }
  for (const v of items.labels) {
    view.setInt32(at, v, true);
    at += 4;
  }
  let end = 0;
  for (const b of idBytes) {
    end += b.length;
    view.setUint32(at, end, true);
    at += 4;
  }
  for (const b of idBytes) {
    bytes.set(b, at);
    at += b.length;
  }
  bytes.set(meta, at);
  view.setUint32(32, crc32(bytes.subarray(HEADER_BYTES)), true);
  return bytes;
}

/** Reads an index file's bytes; `name` (the file) is what an IndexFileError names. */
export function decodeIndexFile(bytes: Uint8Array, name: string): DecodedIndex {
  const file = `Index file \`${name}\``;
  const magic = new TextDecoder().decode(bytes.subarray(0, INDEX_MAGIC.length));
  if (bytes.length < HEADER_BYTES || magic !== INDEX_MAGIC)
    throw new IndexFileError(
      `\`${name}\` is not a supcon index file (${bytes.length < HEADER_BYTES ? `${bytes.length} bytes, shorter than the ${HEADER_BYTES}-byte header` : `it does not start with ${INDEX_MAGIC}`}); build one with \`supcon index\`.`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (offset: number) => view.getUint32(offset, true);
  const version = u32(8);
  if (version !== INDEX_VERSION)
    throw new IndexFileError(
      `${file} has format version ${version}, but this supcon reads version ${INDEX_VERSION}; rebuild it with \`supcon index\`.`,
    );
  const [dim, count, metricCode, idTotal, metaTotal] = [u32(12), u32(16), u32(20), u32(24), u32(28)];
  const expected = HEADER_BYTES + 4 * count * (dim + 2) + idTotal + metaTotal;
  if (bytes.length !== expected)
    throw new IndexFileError(
      `${file} is ${bytes.length < expected ? 'truncated' : 'longer than its header says'}: ${count} items of dimension ${dim} take ${expected} bytes, the file has ${bytes.length}.`,
    );
  const stored = u32(32);
  const computed = crc32(bytes.subarray(HEADER_BYTES));
  if (stored !== computed)
    throw new IndexFileError(
      `${file} is damaged: its CRC-32 is ${hex(computed)}, the header records ${hex(stored)}; rebuild it with \`supcon index\`.`,
    );
  const metric = RETRIEVAL_METRICS[metricCode];
  if (metric === undefined || dim === 0 || count === 0)
    throw new IndexFileError(
      `${file} has an invalid header (metric code ${metricCode}, dim ${dim}, count ${count}).`,
    );
  let at = HEADER_BYTES;
  const embeddings = new Float32Array(count * dim);
  for (let i = 0; i < embeddings.length; i++, at += 4) embeddings[i] = view.getFloat32(at, true);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++, at += 4) labels[i] = view.getInt32(at, true);
  const ends = new Uint32Array(count);
  for (let i = 0; i < count; i++, at += 4) ends[i] = u32(at);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const ids: string[] = new Array(count);
  let metadata: unknown;
  try {
    let start = 0;
    for (let i = 0; i < count; i++) {
      const end = ends[i]!;
      if (end < start || end > idTotal) throw new Error(`id ${i} ends at byte ${end}`);
      ids[i] = utf8.decode(bytes.subarray(at + start, at + end));
      start = end;
    }
    metadata = JSON.parse(utf8.decode(bytes.subarray(at + idTotal)));
  } catch (error) {
    throw new IndexFileError(
      `${file} has unreadable ids or metadata (${error instanceof Error ? error.message : String(error)}).`,
    );
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
    throw new IndexFileError(`${file} has metadata that is not a JSON object.`);
  return {
    items: { embeddings, labels, ids, dim },
    metric,
    metadata: metadata as Record<string, unknown>,
    version,
  };
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3, as zlib's crc32) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
