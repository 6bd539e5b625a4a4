/**
 * Nearest-neighbour search over stored embeddings. `EmbeddingIndex` is the one interface a search
 * backend implements; `ExactIndex` is the brute-force one (every item scored, exact by construction),
 * against which an approximate index (HNSW, IVF) would be measured for recall and speed.
 *
 * Scores: cosine similarity of the L2-normalised vectors (higher is nearer), or Euclidean distance
 * (lower is nearer). Hits come nearest first; equal scores in item order.
 *
 * @example
 *   const index = new ExactIndex({ embeddings, labels, ids, dim: 128 }, 'cosine');
 *   index.search(query, 10)[0]; // { index, id, label, score }
 */
import { check } from '../errors.js';
import { RETRIEVAL_METRICS, type RetrievalMetric } from './retrieval.js';

/** What an index holds: `count` rows of `dim` values with a label and an id each. */
export interface IndexItems {
  /** [count, dim] row-major. */
  embeddings: Float32Array;
  labels: Int32Array;
  ids: string[];
  dim: number;
}

/** One search result. */
export interface Hit {
  /** Row of the item in the index. */
  index: number;
  id: string;
  label: number;
  /** Cosine similarity (cosine indexes) or Euclidean distance (Euclidean indexes). */
  score: number;
}

/** A searchable set of embeddings: exact, or an approximate index plugged in behind the same call. */
export interface EmbeddingIndex {
  readonly metric: RetrievalMetric;
  readonly dim: number;
  readonly count: number;
  /** The `k` nearest items to `query` ([dim]), nearest first; at most `count`. */
  search(query: Float32Array, k: number): Hit[];
}

/** Brute-force search: every item is scored, O(count · dim) per query. */
export class ExactIndex implements EmbeddingIndex {
  readonly count: number;
  readonly dim: number;
  /** [count, dim]: unit rows for cosine (so a dot product is the similarity), as given for Euclidean. */
  private readonly rows: Float32Array;

  constructor(
    readonly items: IndexItems,
    readonly metric: RetrievalMetric,
  ) {
    checkIndexItems(items);
    check(RETRIEVAL_METRICS.includes(metric), 'metric', `one of ${RETRIEVAL_METRICS.join(', ')}`, metric);
    this.dim = items.dim;
    this.count = items.labels.length;
    this.rows = metric === 'cosine' ? unitRows(items.embeddings, this.dim) : items.embeddings;
  }

  search(query: Float32Array, k: number): Hit[] {
    check(
      query instanceof Float32Array && query.length === this.dim,
      'query',
      `a Float32Array of ${this.dim} values (the index's dimension)`,
      query instanceof Float32Array ? `${query.length} values` : query,
    );
    check(Number.isInteger(k) && k >= 1, 'k', 'an integer >= 1', k);
    check(
      query.every((v) => Number.isFinite(v)),
      'query',
      'finite numbers',
      'a query with NaN or infinite values',
    );
    const cosine = this.metric === 'cosine';
    const q = cosine ? unitRows(query, this.dim) : query;
    const n = Math.min(k, this.count);
    // The n best so far, kept sorted best first; `better` is the one order (ties: lower row first).
    const best = new Int32Array(n);
    const bestScore = new Float64Array(n);
    let kept = 0;
    const better = (a: number, sa: number, b: number, sb: number) =>
      cosine ? sa > sb || (sa === sb && a < b) : sa < sb || (sa === sb && a < b);
    const { rows, dim } = this;
    for (let i = 0; i < this.count; i++) {
      const base = i * dim;
      let s = 0;
      if (cosine) for (let d = 0; d < dim; d++) s += q[d]! * rows[base + d]!;
      else
        for (let d = 0; d < dim; d++) {
          const diff = q[d]! - rows[base + d]!;
          s += diff * diff;
        }
      if (kept === n && !better(i, s, best[n - 1]!, bestScore[n - 1]!)) continue;
      let at = kept < n ? kept++ : n - 1;
      while (at > 0 && better(i, s, best[at - 1]!, bestScore[at - 1]!)) {
        best[at] = best[at - 1]!;
        bestScore[at] = bestScore[at - 1]!;
        at--;
      }
      best[at] = i;
      bestScore[at] = s;
    }
    return Array.from(best, (index, j) => ({
      index,
      id: this.items.ids[index]!,
      label: this.items.labels[index]!,
      score: cosine ? bestScore[j]! : Math.sqrt(bestScore[j]!),
    }));
  }
}

/** Validates the shape of index items (one message shape, naming the field). */
export function checkIndexItems(items: IndexItems): void {
  const { embeddings, labels, ids, dim } = items;
  check(Number.isInteger(dim) && dim >= 1, 'dim', 'an integer >= 1', dim);
  check(labels.length >= 1, 'labels', 'at least one item', labels.length);
  check(
    embeddings.length === labels.length * dim,
    'embeddings',
    `${labels.length} items × dim ${dim} = ${labels.length * dim} values`,
    `${embeddings.length} values`,
  );
  check(ids.length === labels.length, 'ids', `${labels.length} ids, one per item`, `${ids.length} ids`);
}

/** Each row of [n, dim] divided by its Euclidean norm (a zero row stays zero), as a new array. */
function unitRows(x: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let base = 0; base < x.length; base += dim) {
    let s = 0;
    for (let d = 0; d < dim; d++) s += x[base + d]! * x[base + d]!;
    const inv = 1 / Math.max(Math.sqrt(s), 1e-12);
    for (let d = 0; d < dim; d++) out[base + d] = x[base + d]! * inv;
  }
  return out;
}
