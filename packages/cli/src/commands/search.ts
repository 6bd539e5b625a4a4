/**
 * `supcon search INDEX --image PATH`: embeds one image with the encoder that built the index (its
 * run's checkpoint, checked unchanged) and prints the index's nearest items: exact search through the
 * core's `EmbeddingIndex` interface, so an approximate index can take its place.
 */
import { readImages } from '@supcon/node';
import { type EmbeddingIndex, ExactIndex } from 'supcon';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { openIndexEncoder, readIndexFile } from './embedding-source.js';
import { runReaderFlagSpecs } from './run-reader.js';

export const searchCommand: Command = {
  name: 'search',
  summary: 'Find the nearest items of an index (`supcon index`) to an image',
  help: [
    'Usage: supcon search INDEX --image PATH [--k K] [--run DIR] [--json]',
    '',
    'The image (JPEG, PNG or WebP) is prepared as `supcon predict` prepares one (centre-cropped to a',
    'square, resized to the encoder’s input, converted to grey or colour), embedded by the encoder of',
    'the run that built INDEX (its checkpoint must be unchanged since), and compared with every item.',
    'Prints one line per hit, nearest first: rank, item id, label, score (cosine similarity, or',
    'Euclidean distance for a Euclidean index); with --json one object {"index", "image", "metric",',
    '"k", "items", "searchMs", "hits": [{"rank", "id", "label", "labelIndex", "score"}]}.',
    '',
    '  --image PATH       the image to search for (required)',
    '  --k K              hits to print (default 10; at most the index’s items)',
    '  --run DIR          the run folder that built INDEX, if it has moved since',
    '  --backend B        auto (default: native oneDNN engine when it loads) | native | cpu',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      backend: runReaderFlagSpecs['backend']!,
      run: { kind: 'string' },
      image: { kind: 'string' },
      k: { kind: 'int', default: 10, min: 1 },
    });
    if (positionals.length !== 1)
      throw new CliError(
        `Give exactly one INDEX file, e.g. \`supcon search train.index --image photo.png\`; received ${positionals.length === 0 ? 'none' : positionals.map((p) => `\`${p}\``).join(', ')}.`,
      );
    const file = positionals[0]!;
    const image = flags['image'] as string | undefined;
    if (image === undefined) throw new CliError('Flag `--image PATH` is required: the image to search for.');
    const k = flags['k'] as number;
    const { items, metric, metadata } = readIndexFile(file);
    const encoder = await openIndexEncoder(file, metadata, flags, flags['run'] as string | undefined);
    const { set, inputs } = await readImages([image], encoder.input.shape);
    if (inputs.length !== 1)
      throw new CliError(
        `Invalid value for \`--image\`. Expected one image file. Received: ${image} (a folder of ${inputs.length} images).`,
      );
    const query = encoder.embed(set).features; // [dim]
    if (query.length !== items.dim)
      throw new CliError(
        `Index \`${file}\` holds embeddings of dimension ${items.dim}, but its encoder now gives ${query.length}: rebuild it with \`supcon index\`.`,
        1,
      );
    const index: EmbeddingIndex = new ExactIndex(items, metric);
    const t0 = performance.now();
    const hits = index.search(query, k);
    const searchMs = performance.now() - t0;
    const rows = hits.map((h, i) => ({
      rank: i + 1,
      id: h.id,
      label: metadata.classes[h.label] ?? String(h.label),
      labelIndex: h.label,
      score: h.score,
    }));
    if (flags['json']) {
      console.log(
        JSON.stringify({
          index: file,
          image,
          metric,
          k,
          items: index.count,
          searchMs,
          resized: inputs[0]!.resized,
          converted: inputs[0]!.converted,
          hits: rows,
        }),
      );
      return 0;
    }
    console.log(
      `Nearest ${hits.length} of ${index.count} items of ${file} to ${image} (${metric === 'cosine' ? 'cosine similarity' : 'Euclidean distance'}):`,
    );
    const idWidth = Math.max(...rows.map((r) => r.id.length));
    const labelWidth = Math.max(...rows.map((r) => r.label.length));
    for (const r of rows)
      console.log(
        `${String(r.rank).padStart(3)}  ${r.id.padEnd(idWidth)}  ${r.label.padEnd(labelWidth)}  ${r.score.toFixed(4)}`,
      );
    return 0;
  },
};
