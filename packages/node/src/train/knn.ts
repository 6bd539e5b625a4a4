/**
 * kNN evaluation of frozen features as summary.json records it: one `knn` object holding the numbers
 * together with the settings that produced them (k, bank size, τ, images per split), written whole by
 * whichever command measured last (`supcon linear` with its defaults, `supcon eval` with its flags), so
 * a kNN number never appears without its k and bank. Also the reader that understands the names
 * earlier versions wrote (`knnTestAccuracy`, `knn_test_top1`, ...).
 */
import { check, type FeatureSet, knnScores, topKAccuracy } from 'supcon';

export interface KnnSplit {
  top1: number;
  top5: number;
  /** Query images of the split that were classified. */
  images: number;
}

export interface KnnResult {
  /** Neighbours that vote. */
  k: number;
  /** Training samples used as neighbours (the first `bank` of the training split). */
  bank: number;
  /** τ of the vote weights exp(similarity / τ). */
  temperature: number;
  validation?: KnnSplit;
  test?: KnnSplit;
  /** Set when the k asked for was larger than the bank and `clampK` lowered it to the bank size. */
  requestedK?: number;
}

/** What `supcon linear` uses: the usual SupCon/SimCLR kNN monitor settings. */
export const DEFAULT_KNN = { k: 200, bank: 10000, temperature: 0.1 } as const;

/** Keys earlier versions wrote to summary.json for kNN numbers (without their settings). */
export const LEGACY_KNN_KEYS = [
  'knnTestAccuracy',
  'knn_validation_top1',
  'knn_validation_top5',
  'knn_test_top1',
  'knn_test_top5',
] as const;

/**
 * kNN top-1/top-5 of each query split against the first `bank` rows of `train`. A `k` larger than
 * the bank is refused (InvalidArgumentError naming `k`), or with `clampK` lowered to the bank size
 * and recorded in `requestedK`.
 *
 * @example
 *   const knn = evaluateKnn(trainF, { test: testF }, { k: 20, bank: 1000, temperature: 0.1, classes: 10 });
 *   knn.test?.top1; // with knn.k = 20, knn.bank = 1000
 */
export function evaluateKnn(
  train: FeatureSet,
  queries: { validation?: FeatureSet; test?: FeatureSet },
  options: { k: number; bank: number; temperature: number; classes: number; clampK?: boolean },
): KnnResult {
  const { classes, temperature } = options;
  check(Number.isInteger(options.bank) && options.bank >= 1, 'bank', 'an integer >= 1', options.bank);
  const bank = firstRows(train, options.bank);
  check(Number.isInteger(options.k) && options.k >= 1, 'k', 'an integer >= 1', options.k);
  const clamped = options.k > bank.count;
  check(
    !clamped || options.clampK === true,
    'k',
    `at most the bank size (${bank.count} training samples${bank.count < options.bank ? `: the training split has only ${train.count}` : ''})`,
    options.k,
  );
  const k = Math.min(options.k, bank.count);
  const result: KnnResult = { k, bank: bank.count, temperature };
  for (const split of ['validation', 'test'] as const) {
    const q = queries[split];
    if (!q) continue;
    const scores = knnScores(bank, q.features, { classes, k, temperature });
    result[split] = {
      top1: topKAccuracy(scores, q.labels, classes, 1),
      top5: topKAccuracy(scores, q.labels, classes, Math.min(5, classes)),
      images: q.count,
    };
  }
  if (clamped) result.requestedK = options.k;
  return result;
}

/** The summary fields of a kNN result: `knn`, and the legacy keys removed (undefined drops them). */
export function knnSummaryFields(knn: KnnResult): Record<string, unknown> {
  return { knn, ...Object.fromEntries(LEGACY_KNN_KEYS.map((key) => [key, undefined])) };
}

/**
 * The kNN test top-1 of a summary.json and its settings when recorded: the `knn` object, or the
 * names earlier versions wrote (their `knnTestAccuracy` came from k=200 against 10 000 training
 * samples; `knn_test_top1` from `supcon eval` with unrecorded settings).
 */
export function knnTestTop1(
  summary: Record<string, unknown>,
): { top1: number; k?: number; bank?: number } | undefined {
  const knn = summary['knn'] as Partial<KnnResult> | undefined;
  const top1 = knn?.test?.top1;
  if (typeof top1 === 'number')
    return {
      top1,
      ...(knn?.k !== undefined ? { k: knn.k } : {}),
      ...(knn?.bank !== undefined ? { bank: knn.bank } : {}),
    };
  for (const key of ['knnTestAccuracy', 'knn_test_top1'] as const) {
    const v = summary[key];
    if (typeof v === 'number') return { top1: v };
  }
  return undefined;
}

function firstRows(f: FeatureSet, n: number): FeatureSet {
  if (f.count <= n) return f;
  return {
    features: f.features.subarray(0, n * f.dim),
    labels: f.labels.subarray(0, n),
    count: n,
    dim: f.dim,
  };
}
