import {
  encoderName,
  evalSummaryText,
  evaluateJointProbe,
  evaluateRun,
  fingerprintFile,
  keepProbe,
  knnSummaryFields,
  runFiles,
  trainRun,
  updateSummary,
  writeReport,
} from '@supcon/node';
import type { EncoderSpec } from 'supcon';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { trainFlagHelp, trainFlagSpecs } from './train-flags.js';
import {
  epochLine,
  finishedMessage,
  formatTime,
  interruptedMessage,
  knnText,
  prefetchLine,
  progressPrinter,
} from './train-output.js';
import { prepareRun, resumeSpec, specFromFlags } from './train-spec.js';

/** The start line's width: a small ResNet's base channels, a ResNet's multiplier when not 1. */
function widthNote(encoder: EncoderSpec): string {
  if (encoder.kind === 'small-resnet') return ` (width ${encoder.baseChannels})`;
  if (encoder.kind === 'resnet' && encoder.widthMultiplier !== 1)
    return ` (width ×${encoder.widthMultiplier})`;
  return '';
}

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Train SupCon on Fashion-MNIST, run the linear probe and write an HTML report',
  help: [
    'Usage: supcon demo [--out DIR] [--resume] [--json] [options]',
    '',
    'Runs `supcon train` with the fashion-quick preset (override anything below), then the linear',
    'probe, then writes DIR/summary.json and DIR/report.html (as `supcon report --run DIR` does: loss.png,',
    'accuracy.png, results.png and embedding.png).',
    '',
    '  --out DIR             run folder (default runs/demo-<time>)',
    '  --resume              continue the interrupted run in --out (as `supcon train --resume`: refused',
    '                        without a checkpoint or with flags that change the run), then probe and report;',
    '                        --resume --epochs N lengthens it to N epochs',
    trainFlagHelp(),
  ].join('\n'),
  async run(argv) {
    const started = performance.now();
    const { flags, positionals } = parseFlags(argv, {
      ...trainFlagSpecs,
      out: { kind: 'string' },
      resume: { kind: 'boolean' },
    });
    if (positionals.length > 0)
      throw new CliError(`Unexpected argument \`${positionals[0]}\`. See \`supcon demo --help\`.`);
    const resume = flags['resume'] === true;
    if (resume && flags['out'] === undefined)
      throw new CliError('Flag `--resume` needs `--out DIR`, the run folder to continue.');
    // The kNN monitor is on by default (k 200): the report draws its curve.
    const { spec: asked, epochs } = resume
      ? resumeSpec(argv, flags, flags['out'] as string)
      : { spec: specFromFlags(flags), epochs: undefined };
    const quiet = flags['quiet'] === true;
    const say = (s: string) => {
      if (!quiet) console.error(s);
    };
    const encoder = encoderName(asked.model.encoder);
    const { out, backend, options } = await prepareRun(flags, 'demo', encoder, resume, epochs);
    const planned = epochs ?? asked.train.epochs;
    say(
      `supcon demo: ${asked.train.method} on ${asked.data.dataset}, ${encoder}${widthNote(asked.model.encoder)}, ${planned} epochs, backend ${backend} → ${out}${resume ? ' (resumed)' : ''}`,
    );
    const { spec, trainer, data, prefetch, interrupted, precision, resumedFrom, alreadyFinished, lastEpoch } =
      await trainRun(asked, out, options, {
        onStep: progressPrinter(quiet),
        onEpoch: (r) => say(epochLine(r, planned)),
      });
    const trainSeconds = (performance.now() - started) / 1000;
    if (interrupted) {
      console.error(interruptedMessage(out, trainer.position.iteration, 'demo'));
      return 130;
    }
    if (alreadyFinished) say(finishedMessage(out, spec.train.epochs, trainer.position.iteration, 'demo'));
    say(prefetchLine(prefetch));
    // A joint probe (--joint-probe) was trained with the encoder: it is measured, not fitted again.
    const joint = trainer.jointProbe?.linearProbe(lastEpoch?.probeAccuracy);
    say(joint ? 'joint probe on validation, then test…' : 'linear probe on frozen features…');
    const evaluation = joint
      ? evaluateJointProbe(spec, trainer.encoder, data, joint)
      : evaluateRun(
          spec,
          trainer.encoder,
          data,
          spec.train.method === 'ce' ? { classifier: trainer.head } : {},
        );
    const evalSummary = evaluation.summary;
    // Kept like `supcon linear` keeps it, so `supcon predict --run DIR` works on a demo run too.
    const checkpoint = fingerprintFile(runFiles(out).checkpoint, trainer.position.iteration);
    const probeFile = keepProbe(out, evaluation, data, checkpoint);
    // Without a test split (a flat folder) the report's embeddings are the validation images.
    const shown = 'test' in evaluation ? evaluation.test : evaluation.validation;
    const summary = updateSummary(out, {
      command: 'demo',
      run: out,
      backend,
      precision,
      method: spec.train.method,
      dataset: spec.data.dataset,
      encoder: encoderName(spec.model.encoder),
      ...(spec.model.encoder.kind === 'small-resnet' ? { width: spec.model.encoder.baseChannels } : {}),
      epochs: spec.train.epochs,
      iterations: trainer.position.iteration,
      resumedFrom,
      trainSamples: data.train.count,
      prefetch,
      probe: undefined,
      ...evalSummary,
      ...knnSummaryFields(evalSummary.knn),
      probeFile,
      trainSeconds,
      seconds: (performance.now() - started) / 1000,
    });
    const report = await writeReport(out, summary, shown, data.dataset.classes);
    const total = (performance.now() - started) / 1000;
    const final = updateSummary(out, { report, seconds: total });
    if (flags['json']) console.log(JSON.stringify(final));
    else {
      console.log(
        `Linear probe: ${evalSummaryText(evalSummary)}; kNN ${evalSummary.testSet ? 'test' : 'validation'} top-1 ${knnText(evalSummary.knn, evalSummary.testSet ? 'test' : 'validation')}; in ${formatTime(total)}.`,
      );
      console.log(`Report: ${report}`);
    }
    return 0;
  },
};
