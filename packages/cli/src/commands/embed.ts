/** `supcon embed --run DIR --out FILE`: writes encoder features and labels of a split as JSON. */
import { augmentSteps, embedImages, loadRunEncoder, writeFileDurable } from '@supcon/node';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { argumentErrorsAsCliErrors } from './train-common.js';

export const embedCommand: Command = {
  name: 'embed',
  summary: 'Write the embeddings and labels of a split (frozen encoder of a run) to a JSON file',
  help: [
    'Usage: supcon embed --run DIR --out FILE [--split test|validation|train] [--json]',
    '',
    'FILE gets {"split", "count", "dim", "classes", "labels": [...], "embeddings": [[...], ...]}.',
    '',
    '  --run DIR        the run folder written by `supcon train`',
    '  --split S        test (default), validation or train',
    '  --backend auto|native|cpu',
  ].join('\n'),
  async run(argv) {
    const { flags } = parseFlags(argv, {
      run: { kind: 'string' },
      out: { kind: 'string' },
      split: { kind: 'string', default: 'test', choices: ['test', 'validation', 'train'] },
      backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
    });
    const run = flags['run'] as string | undefined;
    const out = flags['out'] as string | undefined;
    if (run === undefined || out === undefined)
      throw new CliError('Flags `--run DIR` and `--out FILE` are required.');
    await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
    const split = flags['split'] as 'test' | 'validation' | 'train';
    const result = await argumentErrorsAsCliErrors(async () => {
      const { encoder, data } = await loadRunEncoder(run);
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
      writeFileDurable(out, JSON.stringify(doc));
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
