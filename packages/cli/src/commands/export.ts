/** `supcon export RUN_DIR_OR_CHECKPOINT --out DIR`: the trained encoder as a TensorFlow.js layers model. */
import { exportRun } from '@supcon/node';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';

export const exportCommand: Command = {
  name: 'export',
  summary: 'Export the trained encoder (and head) of a run as a TensorFlow.js layers model for the browser',
  help: [
    'Usage: supcon export RUN_DIR_OR_CHECKPOINT --out DIR [--with-head] [--dataset NAME[:PATH]] [--json]',
    '',
    'Writes DIR/model.json and DIR/weights.bin (load with tf.loadLayersModel): stock layers only for the',
    "ResNets and the MLP; a ViT also uses four custom layers that `import 'supcon'` registers first.",
    'The model takes normalised NHWC images, (pixel / 255 - mean) / std per channel; mean, std, the',
    'class names and the input shape are in model.json under userDefinedMetadata.supcon.',
    'DIR is replaced atomically; it must be new, empty or an earlier export.',
    '',
    '  --out DIR          the export folder',
    '  --with-head        include the projection head (unit-length embeddings) or, for ce, the classifier',
    '  --dataset SPEC     read shape, classes and statistics from this dataset instead of the run config',
    '  --backend auto|native|cpu',
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      out: { kind: 'string' },
      'with-head': { kind: 'boolean' },
      dataset: { kind: 'string' },
      backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
    });
    const source = positionals[0];
    const out = flags['out'] as string | undefined;
    if (source === undefined || positionals.length > 1)
      throw new CliError(
        `Expected one RUN_DIR_OR_CHECKPOINT argument. Received: ${positionals.length ? positionals.join(' ') : 'none'}.`,
      );
    if (out === undefined) throw new CliError('Flag `--out DIR` is required: the export folder.');
    await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
    const dataset = flags['dataset'] as string | undefined;
    const result = await exportRun(source, out, {
      withHead: flags['with-head'] === true,
      ...(dataset !== undefined ? { datasetSpec: dataset } : {}),
    });
    if (flags['json']) console.log(JSON.stringify(result));
    else
      console.log(
        `Exported ${result.output} [${result.outputDim}] (${result.parameters.toLocaleString('en-US')} parameters, ` +
          `${(result.bytes / 1e6).toFixed(2)} MB) to ${result.dir}/model.json.`,
      );
    return 0;
  },
};
