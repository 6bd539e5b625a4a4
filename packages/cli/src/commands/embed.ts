/**
 * `supcon embed --run DIR --out FILE`: writes encoder features of a split (with labels), or of new
 * images (`--images PATH`, with their file names), as JSON.
 */
import { augmentSteps, embedImages, readImages, writeOutputFile } from '@supcon/node';
import type { FeatureSet } from 'supcon';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { openRun, runReaderFlagHelp, runReaderFlagSpecs } from './run-reader.js';

export const embedCommand: Command = {
  name: 'embed',
  summary: 'Write the embeddings of a split or of new images (frozen encoder of a run) to a JSON file',
  help: [
    'Usage: supcon embed --run DIR --out FILE [--split test|validation|train] [--json]',
    '       supcon embed --run DIR --out FILE --images PATH [--no-resize] [--json]',
    '',
    'With --split (default test), FILE gets {"split", "count", "dim", "classes", "labels": [...],',
    '"embeddings": [[...], ...]}, one row per image of that split of the run’s dataset.',
    'With --images, PATH is an image file (JPEG, PNG or WebP) or a folder of them (searched recursively,',
    'sorted; hidden names skipped, any other file refused); each image is prepared like a `folder:` dataset',
    'image (centre-cropped to a square, resized to the run’s input size, converted to grey or colour) and',
    'FILE gets {"images", "count", "dim", "classes", "inputShape", "files": [...], "resized", "converted",',
    '"embeddings": [[...], ...]} (`resized`/`converted`: how many images were).',
    '',
    '  --out FILE         the JSON file to write (required; missing folders are created)',
    '  --split S          test (default), validation or train',
    '  --images PATH      new images instead of a split',
    '  --no-resize        with --images: refuse an image of another width or height than the run’s input',
    runReaderFlagHelp,
  ].join('\n'),
  async run(argv) {
    const { flags } = parseFlags(argv, {
      ...runReaderFlagSpecs,
      out: { kind: 'string' },
      split: { kind: 'string', choices: ['test', 'validation', 'train'] },
      images: { kind: 'string' },
      'no-resize': { kind: 'boolean' },
    });
    const out = flags['out'] as string | undefined;
    if (out === undefined) throw new CliError('Flag `--out FILE` is required: the JSON file to write.');
    const images = flags['images'] as string | undefined;
    if (images !== undefined && flags['split'] !== undefined)
      throw new CliError(
        'Flags `--images` and `--split` exclude each other: embed new images or a split of the run’s dataset.',
      );
    if (images === undefined && flags['no-resize'] === true)
      throw new CliError('Flag `--no-resize` applies only with `--images PATH`.');
    const split = (flags['split'] as 'test' | 'validation' | 'train' | undefined) ?? 'test';
    const { encoder, data } = await openRun(flags);
    const { mean, std, classes } = data.dataset;
    const rows = (f: FeatureSet) =>
      Array.from({ length: f.count }, (_, i) => Array.from(f.features.subarray(i * f.dim, (i + 1) * f.dim)));
    const result = await (async () => {
      if (images !== undefined) {
        const t = data.train;
        const shape: [number, number, number] = [t.height, t.width, t.channels];
        const { set, inputs } = await readImages([images], shape, { resize: flags['no-resize'] !== true });
        const f = embedImages(encoder, set, augmentSteps('none', [t.height, t.width], mean, std).eval);
        const resized = inputs.filter((i) => i.resized).length;
        const converted = inputs.filter((i) => i.converted).length;
        const doc = {
          images,
          count: f.count,
          dim: f.dim,
          classes,
          inputShape: shape,
          files: inputs.map((i) => i.file),
          resized,
          converted,
          embeddings: rows(f),
        };
        writeOutputFile('out', out, JSON.stringify(doc));
        return { file: out, images, count: f.count, dim: f.dim, resized, converted };
      }
      const set =
        split === 'test' ? data.dataset.test : split === 'validation' ? data.validation : data.train;
      if (!set) throw new CliError(`Dataset \`${data.dataset.name}\` has no ${split} split.`);
      const f = embedImages(encoder, set, augmentSteps('none', [set.height, set.width], mean, std).eval);
      const doc = {
        split,
        count: f.count,
        dim: f.dim,
        classes,
        labels: Array.from(f.labels),
        embeddings: rows(f),
      };
      writeOutputFile('out', out, JSON.stringify(doc));
      return { file: out, split, count: f.count, dim: f.dim };
    })();
    if (flags['json']) console.log(JSON.stringify(result));
    else
      console.log(
        `Wrote ${result.count} embeddings of dimension ${result.dim} (${'images' in result ? result.images : split}) to ${result.file}.`,
      );
    return 0;
  },
};
