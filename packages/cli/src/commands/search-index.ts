/**
 * `supcon index --run DIR --out INDEX`: embeds every image of a dataset split with a run's frozen
 * encoder and writes the embeddings, labels and item ids as one index file (the core's
 * `encodeIndexFile`, written atomically) for `supcon search`. Also times exact search on the index.
 */
import { loadDataset, writeOutputFile } from '@supcon/node';
import {
  ExactIndex,
  encodeIndexFile,
  type IndexItems,
  RETRIEVAL_METRICS,
  type RetrievalMetric,
} from 'supcon';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import {
  embeddingSourceFlagHelp,
  embeddingSourceFlagSpecs,
  type IndexMetadata,
  openEncoderFromFlags,
  progressLine,
} from './embedding-source.js';

/** Queries timed for `exactSearch.queriesPerSecond` (items of the index itself, k = 10). */
const TIMED_QUERIES = 200;

export const indexCommand: Command = {
  name: 'index',
  summary: 'Embed a dataset split with a run’s encoder into an index file for `supcon search`',
  help: [
    'Usage: supcon index (--run DIR | --pretrained NAME) --out INDEX [--dataset D] [--split train|test] [--metric cosine|euclidean] [--json]',
    '',
    'Embeds every image of the split (the whole split as the dataset holds it, the validation part of',
    'training included) and writes INDEX: a binary file with a versioned header, the embeddings',
    '(float32), the labels, the item ids (`train/0`, `train/1`, …: the split and the image’s position',
    'in it) and the run and checkpoint that made them (written atomically: a temporary file, then a',
    'rename). `supcon search INDEX --image PATH` then finds an image’s nearest items. The output (and',
    'with --json one object) says how many queries per second exact search answers on this index',
    `(${TIMED_QUERIES} of its own items as queries, k = 10). Format: docs/retrieval.md.`,
    '',
    '  --out INDEX        the index file to write (required; missing folders are created)',
    '  --dataset D        NAME[:PATH] (default: the run’s dataset); its images must have the run’s input shape',
    '  --split S          train (default) | test',
    '  --metric M         cosine (default) | euclidean: how `supcon search` scores this index',
    '  --quiet            no progress line on stderr',
    embeddingSourceFlagHelp,
  ].join('\n'),
  async run(argv) {
    const { flags } = parseFlags(argv, {
      ...embeddingSourceFlagSpecs,
      out: { kind: 'string' },
      dataset: { kind: 'string' },
      split: { kind: 'string', default: 'train', choices: ['train', 'test'] },
      metric: { kind: 'string', default: 'cosine', choices: RETRIEVAL_METRICS },
      quiet: { kind: 'boolean' },
    });
    const out = flags['out'] as string | undefined;
    if (out === undefined) throw new CliError('Flag `--out INDEX` is required: the index file to write.');
    const split = flags['split'] as 'train' | 'test';
    const metric = flags['metric'] as RetrievalMetric;
    const started = performance.now();
    const encoder = await openEncoderFromFlags(flags);
    const datasetName = (flags['dataset'] as string | undefined) ?? encoder.dataset;
    const [height, width, channels] = encoder.input.shape;
    const other =
      datasetName === encoder.dataset
        ? undefined
        : await loadDataset(datasetName, { imageSize: height, channels: channels === 1 ? 1 : 3 });
    const classes = other ? other.classes : encoder.classes;
    const set = other ? (split === 'test' ? other.test : other.train) : encoder.splits[split];
    if (!set) throw new CliError(`Dataset \`${datasetName}\` has no ${split} split.`);
    if (set.height !== height || set.width !== width || set.channels !== channels)
      throw new CliError(
        `Invalid value for \`--dataset\`. Expected images of the run’s input shape ${height}×${width}×${channels}. Received: ${datasetName} (${set.height}×${set.width}×${set.channels}).`,
      );
    const progress = progressLine('index', flags['quiet'] === true || flags['json'] === true);
    const features = encoder.embed(set, { onProgress: progress.stage(`${split} features`) });
    progress.end();
    const items: IndexItems = {
      embeddings: features.features,
      labels: features.labels,
      ids: Array.from({ length: features.count }, (_, i) => `${split}/${i}`),
      dim: features.dim,
    };
    const metadata: IndexMetadata = {
      createdAt: new Date().toISOString(),
      source: encoder.fingerprint,
      input: encoder.input,
      dataset: datasetName,
      split,
      classes,
    };
    const bytes = encodeIndexFile(items, metric, { ...metadata });
    writeOutputFile('out', out, bytes);
    const exactSearch = timeExactSearch(items, metric);
    const result = {
      index: out,
      items: features.count,
      dim: features.dim,
      metric,
      dataset: datasetName,
      split,
      ...(encoder.fingerprint.kind === 'run'
        ? { run: encoder.fingerprint.run }
        : { pretrained: encoder.fingerprint.name }),
      bytes: bytes.length,
      exactSearch,
      seconds: (performance.now() - started) / 1000,
    };
    if (flags['json']) console.log(JSON.stringify(result));
    else
      console.log(
        `Wrote ${out}: ${result.items} ${split} items of ${datasetName}, dimension ${result.dim}, ${metric} ` +
          `(${(bytes.length / 2 ** 20).toFixed(1)} MiB). Exact search: ${exactSearch.queriesPerSecond.toFixed(0)} queries/s.`,
      );
    return 0;
  },
};

/** Queries per second of exact search, k = 10, with the index's first items as queries. */
function timeExactSearch(items: IndexItems, metric: RetrievalMetric) {
  const index = new ExactIndex(items, metric);
  const queries = Math.min(TIMED_QUERIES, index.count);
  const t0 = performance.now();
  for (let i = 0; i < queries; i++)
    index.search(items.embeddings.subarray(i * items.dim, (i + 1) * items.dim), 10);
  const seconds = Math.max((performance.now() - t0) / 1000, 1e-9);
  return { queries, k: 10, items: index.count, queriesPerSecond: queries / seconds };
}
