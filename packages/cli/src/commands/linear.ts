/** `supcon linear --run DIR`: linear probe on the frozen encoder of a run (validation picks, test once). */
import { evaluateEncoder, knnSummaryFields, updateSummary } from '@supcon/node';
import type { Command } from '../command.js';
import { parseFlags } from '../flags.js';
import {
  argumentErrorsAsCliErrors,
  knnText,
  openRun,
  runReaderFlagHelp,
  runReaderFlagSpecs,
} from './train-common.js';

export const linearCommand: Command = {
  name: 'linear',
  summary: 'Linear probe (top-1/top-5) on the frozen encoder of a training run',
  help: [
    'Usage: supcon linear --run DIR [--epochs N] [--json]',
    '',
    'Computes features of the training, validation and test splits once, fits a softmax-regression',
    'classifier (weight decay chosen among 0, 1e-4, 1e-3 on validation) and reports the test set once.',
    'Also a kNN top-1 on the test set (k 200, the first 10000 training samples as neighbours; k is lowered',
    'to the bank size for smaller training splits, and summary.json says so). Results are merged into',
    'DIR/summary.json (the kNN numbers under `knn`, with their k, bank and temperature).',
    '',
    '  --epochs N         probe epochs (default: the run config, 20 for fashion-quick)',
    runReaderFlagHelp,
  ].join('\n'),
  async run(argv) {
    const { flags } = parseFlags(argv, { ...runReaderFlagSpecs, epochs: { kind: 'int', min: 1 } });
    const { run, spec, encoder, data } = await openRun(flags);
    const result = await argumentErrorsAsCliErrors(async () => {
      const epochs = flags['epochs'] as number | undefined;
      return evaluateEncoder(spec, encoder, data, epochs !== undefined ? { probeEpochs: epochs } : {})
        .summary;
    });
    updateSummary(run, { ...result, ...knnSummaryFields(result.knn) });
    if (flags['json']) console.log(JSON.stringify(result));
    else
      console.log(
        `Linear probe: test top-1 ${(100 * result.testAccuracy).toFixed(2)}%, top-5 ${(100 * result.testTop5).toFixed(2)}%, ` +
          `validation top-1 ${(100 * result.validationAccuracy).toFixed(2)}% (weight decay ${result.probeWeightDecay}, ` +
          `${result.probeEpochs} epochs); kNN test top-1 ${knnText(result.knn)}.`,
      );
    return 0;
  },
};
