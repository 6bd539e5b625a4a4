/** `supcon eval --run DIR`: kNN evaluation (cosine similarity, weighted vote) of a run's frozen encoder. */
import { augmentSteps, embedImages, subset, updateSummary } from '@supcon/node';
import { knnScores, topKAccuracy } from 'supcon';
import type { Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { argumentErrorsAsCliErrors, openRun, runReaderFlagHelp, runReaderFlagSpecs } from './train-common.js';

export const evalCommand: Command = {
  name: 'eval',
  summary: 'kNN top-1/top-5 of a run’s frozen encoder on the validation and test splits',
  help: [
    'Usage: supcon eval --run DIR [--k K] [--temperature T] [--json]',
    '',
    '  --k K              neighbours (default 200)',
    '  --temperature T    τ of the vote weights exp(similarity / τ) (default 0.1)',
    '  --bank N           training samples used as neighbours (default 10000; the first N of the split)',
    runReaderFlagHelp,
  ].join('\n'),
  async run(argv) {
    const { flags } = parseFlags(argv, {
      ...runReaderFlagSpecs,
      k: { kind: 'int', default: 200, min: 1 },
      bank: { kind: 'int', default: 10000, min: 1 },
      temperature: { kind: 'number', default: 0.1 },
    });
    const { run, encoder, data } = await openRun(flags);
    const result = await argumentErrorsAsCliErrors(async () => {
      const { mean, std } = data.dataset;
      const steps = augmentSteps('none', [data.train.height, data.train.width], mean, std).eval;
      const classes = data.dataset.classes.length;
      const n = Math.min(flags['bank'] as number, data.train.count);
      const bank = embedImages(
        encoder,
        subset(
          data.train,
          Int32Array.from({ length: n }, (_, i) => i),
        ),
        steps,
      );
      const out: Record<string, number> = {};
      const splits = {
        validation: data.validation,
        ...(data.dataset.test ? { test: data.dataset.test } : {}),
      };
      for (const [name, set] of Object.entries(splits)) {
        const q = embedImages(encoder, set, steps);
        const scores = knnScores(bank, q.features, {
          classes,
          k: flags['k'] as number,
          temperature: flags['temperature'] as number,
        });
        out[`knn_${name}_top1`] = topKAccuracy(scores, q.labels, classes, 1);
        out[`knn_${name}_top5`] = topKAccuracy(scores, q.labels, classes, Math.min(5, classes));
      }
      return out;
    });
    updateSummary(run, result);
    if (flags['json']) console.log(JSON.stringify(result));
    else for (const [k, v] of Object.entries(result)) console.log(`${k.padEnd(22)} ${(100 * v).toFixed(2)}%`);
    return 0;
  },
};
