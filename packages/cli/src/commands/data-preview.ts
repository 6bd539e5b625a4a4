/** `supcon data preview NAME[:PATH] --out FILE.png`: originals and their augmented views in a grid. */
import { resolve } from 'node:path';
import { loadDataset, onePerClass, previewGrid, writeOutputFile } from '@supcon/node';
import { AUGMENT_PRESETS, type AugmentPreset, augmentPreset } from 'supcon';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { sizeFlag } from './data-common.js';

export const dataPreviewCommand: Command = {
  name: 'data preview',
  summary: 'Write a PNG grid of training images and their augmented views',
  help: [
    'Usage: supcon data preview NAME[:PATH] --out FILE.png [--preset supcon] [--rows 10] [--views 6] [--seed 0]',
    '',
    'One row per sample (the first of each class in turn): the original, then its views.',
    'Missing folders of FILE.png are created.',
    `  --preset P   ${AUGMENT_PRESETS.join(', ')} (default supcon)`,
    '  --rows N     samples (default 10)',
    '  --views V    augmented views per sample (default 6)',
    '  --scale S    pixel magnification (default 4)',
    '  --seed S     augmentation seed (default 0)',
    '  --size N     folder datasets: resize images to N×N (default 32)',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      out: { kind: 'string' },
      preset: { kind: 'string', default: 'supcon', choices: AUGMENT_PRESETS },
      rows: { kind: 'int', default: 10, min: 1 },
      views: { kind: 'int', default: 6, min: 1 },
      scale: { kind: 'int', default: 4, min: 1 },
      seed: { kind: 'int', default: 0 },
      size: sizeFlag,
    });
    if (positionals.length !== 1) throw new CliError('Expected one dataset (NAME or NAME:PATH).');
    const out = flags['out'] as string | undefined;
    if (!out?.endsWith('.png'))
      throw new CliError(`Flag \`--out\` expects a file name ending in .png. Received: ${out ?? 'none'}.`);
    const ds = await loadDataset(positionals[0]!, { imageSize: flags['size'] as number });
    const set = ds.train;
    const steps = augmentPreset(flags['preset'] as AugmentPreset, { size: [set.height, set.width] });
    const indices = onePerClass(set.labels, flags['rows'] as number);
    const png = previewGrid(set, {
      steps,
      indices,
      views: flags['views'] as number,
      seed: flags['seed'] as number,
      scale: flags['scale'] as number,
    });
    writeOutputFile('out', resolve(out), png);
    const summary = {
      out: resolve(out),
      dataset: ds.name,
      preset: flags['preset'],
      rows: indices.length,
      views: flags['views'],
      bytes: png.length,
    };
    console.log(
      flags['json']
        ? JSON.stringify(summary)
        : `wrote ${summary.out} (${indices.length} samples × ${summary.views} views, ${summary.preset})`,
    );
    return 0;
  },
};
