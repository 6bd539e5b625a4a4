/** `supcon eval --run DIR`: kNN evaluation (cosine similarity, weighted vote) of a run's frozen encoder. */
import {
  augmentSteps,
  DEFAULT_KNN,
  embedImages,
  evaluateKnn,
  knnSummaryFields,
  subset,
  updateSummary,
} from '@supcon/node';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { retrievalHelp, runRetrievalEval } from './eval-retrieval.js';
import { openRun, runReaderFlagHelp, runReaderFlagSpecs } from './run-reader.js';

export const evalCommand: Command = {
  name: 'eval',
  summary:
    'kNN top-1/top-5 of a run’s frozen encoder; with --retrieval, Recall@K, precision@1, R-precision, mAP@R',
  help: [
    'Usage: supcon eval --run DIR [--k K] [--bank N] [--temperature T] [--json]',
    '',
    'Writes the result to DIR/summary.json under `knn`, with the k, bank size and temperature that',
    'produced it (replacing an earlier kNN result, e.g. the one `supcon linear` records).',
    '',
    `  --k K              neighbours (default ${DEFAULT_KNN.k}; at most the bank size)`,
    `  --temperature T    τ of the vote weights exp(similarity / τ) (default ${DEFAULT_KNN.temperature})`,
    `  --bank N           training samples used as neighbours (default ${DEFAULT_KNN.bank}; the first N of the split)`,
    runReaderFlagHelp,
    '',
    retrievalHelp,
  ].join('\n'),
  async run(argv) {
    if (argv.includes('--retrieval')) return runRetrievalEval(argv.filter((a) => a !== '--retrieval'));
    const { flags } = parseFlags(argv, {
      ...runReaderFlagSpecs,
      k: { kind: 'int', default: DEFAULT_KNN.k, min: 1 },
      bank: { kind: 'int', default: DEFAULT_KNN.bank, min: 1 },
      temperature: { kind: 'number', default: DEFAULT_KNN.temperature },
    });
    const k = flags['k'] as number;
    const requestedBank = flags['bank'] as number;
    // Refused before any image is embedded (the run's training split is known once its data is loaded).
    if (k > requestedBank)
      throw new CliError(
        `Invalid value for \`--k\`. Expected at most the bank size (--bank ${requestedBank}). Received: ${k}.`,
      );
    const { run, encoder, data } = await openRun(flags);
    const bankSize = Math.min(requestedBank, data.train.count);
    if (k > bankSize)
      throw new CliError(
        `Invalid value for \`--k\`. Expected at most the bank size (${bankSize}: the training split of \`${run}\` has ${data.train.count} samples). Received: ${k}.`,
      );
    const { mean, std } = data.dataset;
    const steps = augmentSteps('none', [data.train.height, data.train.width], mean, std).eval;
    const bank = embedImages(
      encoder,
      subset(
        data.train,
        Int32Array.from({ length: bankSize }, (_, i) => i),
      ),
      steps,
    );
    const test = data.dataset.test;
    const knn = evaluateKnn(
      bank,
      {
        validation: embedImages(encoder, data.validation, steps),
        ...(test ? { test: embedImages(encoder, test, steps) } : {}),
      },
      {
        k,
        bank: bankSize,
        temperature: flags['temperature'] as number,
        classes: data.dataset.classes.length,
      },
    );
    updateSummary(run, knnSummaryFields(knn));
    if (flags['json']) console.log(JSON.stringify({ knn }));
    else {
      for (const split of ['validation', 'test'] as const) {
        const r = knn[split];
        if (r)
          console.log(
            `kNN ${split.padEnd(10)} top-1 ${(100 * r.top1).toFixed(2)}%  top-5 ${(100 * r.top5).toFixed(2)}%  (${r.images} images)`,
          );
      }
      console.log(`k ${knn.k}, bank ${knn.bank} training samples, temperature ${knn.temperature}.`);
    }
    return 0;
  },
};
