/**
 * `supcon demo`: the main job. Trains SupCon on Fashion-MNIST with the fashion-quick preset, runs the
 * linear probe on frozen features (weight decay chosen on a validation split, test set looked at
 * once), and writes an HTML report with PNG plots. `--json` prints the summary, with
 * `testAccuracy` (a fraction) and `seconds` (wall time of the whole job).
 */
import { join } from 'node:path';
import { evaluateEncoder, knnSummaryFields, trainRun, updateSummary, writeReport } from '@supcon/node';
import { type BackendChoice, precisionSetter, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import {
  argumentErrorsAsCliErrors,
  formatTime,
  interruptedMessage,
  knnText,
  prefetchLine,
  progressPrinter,
  runOptionsFromFlags,
  specFromFlags,
  trainFlagHelp,
  trainFlagSpecs,
} from './train-common.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Train SupCon on Fashion-MNIST, run the linear probe and write an HTML report',
  help: [
    'Usage: supcon demo [--out DIR] [--json] [options]',
    '',
    'Runs `supcon train` with the fashion-quick preset (override anything below), then the linear',
    'probe, then writes DIR/report.html with loss.png, accuracy.png and embedding.png, and DIR/summary.json.',
    '',
    '  --out DIR             run folder (default runs/demo-<time>)',
    trainFlagHelp,
  ].join('\n'),
  async run(argv) {
    const started = performance.now();
    const { flags, positionals } = parseFlags(argv, { ...trainFlagSpecs, out: { kind: 'string' } });
    if (positionals.length > 0)
      throw new CliError(`Unexpected argument \`${positionals[0]}\`. See \`supcon demo --help\`.`);
    const spec = await argumentErrorsAsCliErrors(() => specFromFlags(flags));
    if (flags['knn-k'] === undefined) spec.knnK = 200; // the demo draws the kNN accuracy curve
    const out =
      (flags['out'] as string | undefined) ??
      join('runs', `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    const quiet = flags['quiet'] === true;
    const say = (s: string) => {
      if (!quiet) console.error(s);
    };
    const backend = await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
    const options = { ...runOptionsFromFlags(flags), applyPrecision: precisionSetter(backend) };
    say(
      `supcon demo: ${spec.train.method} on ${spec.data.dataset}, ${spec.model.encoder} (width ${spec.model.width}), ${spec.train.epochs} epochs, backend ${backend} → ${out}`,
    );
    const { trainer, data, prefetch, interrupted, precision } = await argumentErrorsAsCliErrors(() =>
      trainRun(spec, out, options, {
        onStep: progressPrinter(quiet),
        onEpoch: (r) =>
          say(
            `epoch ${r.epoch + 1}: loss ${r.loss.toFixed(4)}${r.knnAccuracy !== undefined ? `, kNN validation top-1 ${(100 * r.knnAccuracy).toFixed(2)}%` : ''} (${r.seconds.toFixed(0)} s)`,
          ),
      }),
    );
    const trainSeconds = (performance.now() - started) / 1000;
    if (interrupted) {
      console.error(interruptedMessage(out, trainer.position.iteration));
      return 130;
    }
    say(prefetchLine(prefetch));
    say('linear probe on frozen features…');
    const { summary: evalSummary, test } = evaluateEncoder(spec, trainer.encoder, data);
    const summary = updateSummary(out, {
      command: 'demo',
      run: out,
      backend,
      precision,
      method: spec.train.method,
      dataset: spec.data.dataset,
      encoder: spec.model.encoder,
      width: spec.model.width,
      epochs: spec.train.epochs,
      iterations: trainer.position.iteration,
      trainSamples: data.train.count,
      prefetch,
      ...evalSummary,
      ...knnSummaryFields(evalSummary.knn),
      trainSeconds,
      seconds: (performance.now() - started) / 1000,
    });
    const report = await writeReport(out, summary, test, data.dataset.classes);
    const total = (performance.now() - started) / 1000;
    const final = updateSummary(out, { report, seconds: total });
    if (flags['json']) console.log(JSON.stringify(final));
    else {
      console.log(
        `Linear-probe test accuracy ${(100 * evalSummary.testAccuracy).toFixed(2)}% (top-5 ${(100 * evalSummary.testTop5).toFixed(2)}%, ` +
          `validation ${(100 * evalSummary.validationAccuracy).toFixed(2)}%, kNN ${knnText(evalSummary.knn)}) in ${formatTime(total)}.`,
      );
      console.log(`Report: ${report}`);
    }
    return 0;
  },
};
