/** `supcon predict --run DIR IMAGE|FOLDER…`: labels new images with a run's encoder and kept probe. */
import { type ImageInput, loadRunClassifier, predictImages, readImages } from '@supcon/node';
import { type BackendChoice, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { runReaderFlagHelp, runReaderFlagSpecs } from './run-reader.js';

export const predictCommand: Command = {
  name: 'predict',
  summary: 'Label new images (files or folders) with a run’s encoder and the probe `supcon linear` kept',
  help: [
    'Usage: supcon predict --run DIR IMAGE|FOLDER… [--top K] [--no-resize] [--json]',
    '',
    'Each IMAGE (JPEG, PNG or WebP) or every image in FOLDER (searched recursively, sorted; hidden names',
    'skipped, any other file refused) is prepared like a `folder:` dataset image: centre-cropped to a',
    'square and resized to the run’s input size, converted to grey or colour as the run was trained.',
    'The encoder gives its features and the linear probe kept by `supcon linear --run DIR` (DIR/probe.json)',
    'its class probabilities (softmax of the probe’s scores). A run without a probe, or whose probe was',
    'fitted on an earlier checkpoint, is refused: run `supcon linear --run DIR` first.',
    '',
    'Prints one line per image (its file, the K most probable classes and their probabilities); with',
    '--json one object {"run", "inputShape", "count", "resized", "converted", "predictions": [{"file",',
    '"label", "index", "probability", "top": [{"label", "index", "probability"}], "original", "resized",',
    '"converted"}]}.',
    '',
    '  --top K            the K most probable classes per image (default 1; at most the run’s classes)',
    '  --no-resize        refuse an image whose width or height differs from the run’s input instead of',
    '                     resizing it (the message names the expected shape)',
    runReaderFlagHelp,
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      ...runReaderFlagSpecs,
      top: { kind: 'int', default: 1, min: 1 },
      'no-resize': { kind: 'boolean' },
    });
    const run = flags['run'] as string | undefined;
    if (run === undefined)
      throw new CliError('Flag `--run DIR` is required: the run folder written by `supcon train`.');
    if (positionals.length === 0)
      throw new CliError(
        'Give at least one IMAGE or FOLDER to label, e.g. `supcon predict --run DIR photo.png`; received none.',
      );
    const top = flags['top'] as number;
    await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
    const model = loadRunClassifier(run);
    const classes = model.record.classes.length;
    if (top > classes)
      throw new CliError(
        `Invalid value for \`--top\`. Expected at most the run's ${classes} classes. Received: ${top}.`,
      );
    const { set, inputs } = await readImages(positionals, model.record.input.shape, {
      resize: flags['no-resize'] !== true,
    });
    const predictions = predictImages(model, set, top);
    const shape = model.record.input.shape;
    const resized = inputs.filter((i) => i.resized).length;
    const converted = inputs.filter((i) => i.converted).length;
    if (flags['json']) {
      console.log(
        JSON.stringify({
          run,
          inputShape: shape,
          count: inputs.length,
          resized,
          converted,
          predictions: predictions.map((p, i) => ({
            file: inputs[i]!.file,
            ...p,
            ...whatWasDone(inputs[i]!),
          })),
        }),
      );
      return 0;
    }
    const width = Math.max(...inputs.map((i) => i.file.length));
    predictions.forEach((p, i) => {
      const labels = p.top.map((t) => `${t.label} ${(100 * t.probability).toFixed(1)}%`).join(', ');
      console.log(`${inputs[i]!.file.padEnd(width)}  ${labels}`);
    });
    if (resized > 0 || converted > 0)
      console.error(
        `Note: ${resized} of ${inputs.length} images resized to ${shape[1]}×${shape[0]} and ${converted} converted to ` +
          `${shape[2] === 1 ? 'grey' : 'colour'}, the input of the run's encoder (${shape.join('×')}).`,
      );
    return 0;
  },
};

function whatWasDone(input: ImageInput): Pick<ImageInput, 'original' | 'resized' | 'converted'> {
  return { original: input.original, resized: input.resized, converted: input.converted };
}
