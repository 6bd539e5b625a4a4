/** `supcon embed --run DIR --out FILE`: writes encoder features and labels of a split as JSON. */
import { augmentSteps, embedImages, writeOutputFile } from '@supcon/node';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { argumentErrorsAsCliErrors, openRun, runReaderFlagHelp, runReaderFlagSpecs } from './train-common.js';

export const embedCommand: Command = {
  name: 'embed',
  summary: 'Write the embeddings and labels of a split (frozen encoder of a run) to a JSON file',
  help: [
    'Usage: supcon embed --run DIR --out FILE [--split test|validation|train] [--json]',
    '',
    'FILE gets {"split", "count", "dim", "classes", "labels": [...], "embeddings": [[...], ...]}.',
    '',
    '  --out FILE         the JSON file to write (required; missing folders are created)',
    '  --split S          test (default), validation or train',
    runReaderFlagHelp,
  ].join('\n'),
  async run(argv) {
    const { flags } = parseFlags(argv, {
      ...runReaderFlagSpecs,
      out: { kind: 'string' },
      split: { kind: 'string', default: 'test', choices: ['test', 'validation', 'train'] },
    });
    const out = flags['out'] as string | undefined;
    if (out === undefined) throw new CliError('Flag `--out FILE` is required: the JSON file to write.');
    const split = flags['split'] as 'test' | 'validation' | 'train';
    const { encoder, data } = await openRun(flags);
    const result = await argumentErrorsAsCliErrors(async () => {
      const set =
        split === 'test' ? data.dataset.test : split === 'validation' ? data.validation : data.train;
      if (!set) throw new CliError(`Dataset \`${data.dataset.name}\` has no ${split} split.`);
      const { mean, std } = data.dataset;
      const f = embedImages(encoder, set, augmentSteps('none', [set.height, set.width], mean, std).eval);
      const embeddings = Array.from({ length: f.count }, (_, i) =>
        Array.from(f.features.subarray(i * f.dim, (i + 1) * f.dim)),
      );
      const doc = {
        split,
        count: f.count,
        dim: f.dim,
        classes: data.dataset.classes,
        labels: Array.from(f.labels),
        embeddings,
      };
      writeOutputFile('out', out, JSON.stringify(doc));
      return { file: out, split, count: f.count, dim: f.dim };
    });
    if (flags['json']) console.log(JSON.stringify(result));
    else
      console.log(
        `Wrote ${result.count} embeddings of dimension ${result.dim} (${split}) to ${result.file}.`,
      );
    return 0;
  },
};
