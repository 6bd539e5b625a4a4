/**
 * `supcon eval --retrieval --run DIR`: Recall@1/5/10, precision@1, R-precision and mAP@R of a run's
 * frozen encoder (the core's `retrievalMetrics`): its test split queried against its training images,
 * or (`--gallery test`) the test split against itself, leave-one-out.
 */
import type { FrozenEncoderWithData, ImageSet } from '@supcon/node';
import { RETRIEVAL_METRICS, type RetrievalMetric, retrievalMetrics, retrievalScores } from 'supcon';
import { CliError } from '../command.js';
import { parseFlags } from '../flags.js';
import { embeddingSourceFlagSpecs, openEncoderFromFlags, percent, progressLine } from './embedding-source.js';

export const retrievalHelp = [
  'Usage: supcon eval --retrieval (--run DIR | --pretrained NAME) [--gallery train|test] [--metric cosine|euclidean] [--json]',
  '',
  'Each test image is a query; the gallery is ranked by closeness of the encoder features. A query',
  'counts for Recall@K when one of its K nearest has its label; precision@1 is Recall@1; with R the',
  'gallery items of its label, R-precision is the share of them among its R nearest and mAP@R the mean',
  'over queries of (1/R) Σ_{i≤R} [i-th nearest has the label] · precision@i. Queries whose label no',
  'gallery item has are skipped (counted in `skippedQueries`). A dataset without a test split uses its',
  'validation split as queries. See docs/retrieval.md.',
  '',
  '  --gallery G        train (default: the run’s training images, without the validation split) |',
  '                     test (the queries themselves, each query left out of its own gallery)',
  '  --metric M         cosine (default) | euclidean',
  '  --quiet            no progress line on stderr',
  '  (--run and --backend as above)',
].join('\n');

/** Runs `eval --retrieval` on `argv` (without the `--retrieval` flag). */
export async function runRetrievalEval(argv: string[]): Promise<number> {
  const { flags } = parseFlags(argv, {
    ...embeddingSourceFlagSpecs,
    gallery: { kind: 'string', default: 'train', choices: ['train', 'test'] },
    metric: { kind: 'string', default: 'cosine', choices: RETRIEVAL_METRICS },
    quiet: { kind: 'boolean' },
  });
  const started = performance.now();
  const metric = flags['metric'] as RetrievalMetric;
  const leaveOneOut = flags['gallery'] === 'test';
  const encoder = await openEncoderFromFlags(flags);
  const progress = progressLine('eval', flags['quiet'] === true || flags['json'] === true);
  const { split, set } = heldOut(encoder);
  const queries = encoder.embed(set, { onProgress: progress.stage(`${split} features`) });
  const gallery = leaveOneOut
    ? 'leave-one-out'
    : encoder.embed(encoder.train, { onProgress: progress.stage('train features') });
  const m = retrievalMetrics(queries, gallery, {
    metric,
    ks: [1, 5, 10],
    onProgress: progress.stage('ranking'),
  });
  progress.end();
  const result = {
    ...(encoder.fingerprint.kind === 'run'
      ? { run: encoder.fingerprint.run }
      : { pretrained: encoder.fingerprint.name }),
    metric,
    gallery: leaveOneOut ? split : 'train',
    mode: m.mode,
    querySplit: split,
    queries: m.queries,
    skippedQueries: m.skippedQueries,
    gallerySize: m.gallerySize,
    ...retrievalScores(m),
    seconds: (performance.now() - started) / 1000,
  };
  if (flags['json']) console.log(JSON.stringify(result));
  else {
    const against = leaveOneOut ? `${split} leave-one-out` : `${m.gallerySize} training images`;
    console.log(
      `Retrieval (${metric}, ${m.queries} ${split} queries vs ${against}): Recall@1 ${percent(m.recallAtK[1]!)}, ` +
        `@5 ${percent(m.recallAtK[5]!)}, @10 ${percent(m.recallAtK[10]!)}; precision@1 ${percent(m.precisionAt1)}, ` +
        `R-precision ${percent(m.rPrecision)}, mAP@R ${percent(m.mapAtR)}` +
        (m.skippedQueries > 0
          ? ` (${m.skippedQueries} queries skipped: no gallery item of their label).`
          : '.'),
    );
  }
  return 0;
}

/** The queries: the test split, or a run's validation split when its dataset has none. */
function heldOut(encoder: FrozenEncoderWithData): { split: 'test' | 'validation'; set: ImageSet } {
  if (encoder.test) return { split: 'test', set: encoder.test };
  if (encoder.validation) return { split: 'validation', set: encoder.validation };
  throw new CliError(
    `The dataset of pretrained model \`${encoder.name}\` (${encoder.dataset}) has no test split.`,
    1,
  );
}
