/** `supcon data inspect NAME[:PATH]`: samples per split, classes, image shape, samples per class. */
import { inspectDataset } from '@supcon/node';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { sizeFlag } from './data-common.js';

export const dataInspectCommand: Command = {
  name: 'data inspect',
  summary: 'Show the splits, classes, image shape and samples per class of a dataset',
  help: [
    'Usage: supcon data inspect NAME[:PATH] [--validation N] [--seed S] [--json]',
    '',
    "NAME is fashion-mnist (default path: Debian's /usr/share/datasets/fashion-mnist), mnist, cifar10,",
    'cifar100 or folder:PATH (one sub-folder per class).',
    '',
    '  --validation N   carve a seeded, stratified validation split of N samples (or a fraction < 1) from train',
    '  --seed S         seed of the validation split (default 0)',
    '  --size N         folder datasets: resize images to N×N (default 32)',
    '  --grayscale      folder datasets: decode to one channel',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      validation: { kind: 'number' },
      seed: { kind: 'int', default: 0 },
      size: sizeFlag,
      grayscale: { kind: 'boolean' },
    });
    if (positionals.length !== 1) {
      throw new CliError(
        `Expected one dataset (NAME or NAME:PATH). Received: ${positionals.length === 0 ? 'none' : positionals.join(' ')}.`,
      );
    }
    const validation = flags['validation'] as number | undefined;
    const summary = await inspectDataset(positionals[0]!, {
      imageSize: flags['size'] as number,
      channels: flags['grayscale'] ? 1 : 3,
      ...(validation !== undefined
        ? { validation: { size: validation, seed: flags['seed'] as number } }
        : {}),
    });
    if (flags['json']) {
      console.log(JSON.stringify(summary));
      return 0;
    }
    const [h, w, c] = summary.shape;
    const lines = [
      `${summary.name} (${summary.path})`,
      `  image shape  ${h}×${w}×${c}`,
      `  classes      ${summary.classes.length}`,
    ];
    for (const [split, s] of Object.entries(summary.splits))
      if (s) lines.push(`  ${split.padEnd(12)} ${s.samples} samples`);
    lines.push(
      '',
      `  ${'class'.padEnd(20)} ${Object.keys(summary.splits)
        .map((s) => s.padStart(10))
        .join(' ')}`,
    );
    summary.classes.forEach((name, k) => {
      const counts = Object.values(summary.splits).map((s) => String(s?.perClass[k] ?? 0).padStart(10));
      lines.push(`  ${`${k} ${name}`.slice(0, 20).padEnd(20)} ${counts.join(' ')}`);
    });
    console.log(lines.join('\n'));
    return 0;
  },
};
