import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RunSpec } from '@supcon/node';
import {
  encoderName,
  evalSummaryText,
  evaluateJointProbe,
  evaluateRun,
  FASHION_DEMO,
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

/** The demo's preset when `--preset` is not given (`supcon train`'s is fashion-quick). */
export const DEMO_PRESET = 'fashion-demo';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'Train SupCon on Fashion-MNIST, run the linear probe and write an HTML report',
  help: [
    'Usage: supcon demo [--out DIR] [--resume] [--json] [options]',
    '',
    `Runs \`supcon train\` with the fashion-demo preset (small ResNet width ${FASHION_DEMO.width}, lr ${FASHION_DEMO.lr}, ${FASHION_DEMO.epochs} epochs: about`,
    '9½ minutes on 2 idle cores; override anything below, e.g. `--preset fashion-quick` for the 10-epoch',
    'width-16 recipe in about 3½), then the linear probe, then writes DIR/summary.json and DIR/report.html',
    '(as `supcon report --run DIR` does: loss.png, accuracy.png, results.png and embedding.png).',
    '',
    '  --out DIR             run folder (default runs/demo-<time>)',
    '  --resume              continue the interrupted run in --out (as `supcon train --resume`: refused',
    '                        without a checkpoint or with flags that change the run), then probe and report;',
    '                        --resume --epochs N lengthens it to N epochs',
    '  --baseline ce         also train cross-entropy on the same encoder, data and augmentation in',
    '                        DIR/baseline-ce, read it out by its own classifier and by the linear probe,',
    '                        and put both beside SupCon in the report (Baseline section, comparison.png)',
    "  --baseline-epochs N   the baseline's epochs (default: the run's epochs × its views: cross-entropy",
    '                        trains one view per image, so about the same images and time pass through',
    '                        the encoder; both measured training times are shown)',
    trainFlagHelp(),
  ].join('\n'),
  async run(argv) {
    const started = performance.now();
    const { flags, positionals } = parseFlags(argv, {
      ...trainFlagSpecs,
      preset: { ...trainFlagSpecs['preset']!, default: DEMO_PRESET },
      out: { kind: 'string' },
      resume: { kind: 'boolean' },
      baseline: { kind: 'string', choices: ['ce'] },
      'baseline-epochs': { kind: 'int', min: 1 },
    });
    if (positionals.length > 0)
      throw new CliError(`Unexpected argument \`${positionals[0]}\`. See \`supcon demo --help\`.`);
    const resume = flags['resume'] === true;
    if (flags['baseline-epochs'] !== undefined && flags['baseline'] === undefined)
      throw new CliError(
        'Flag `--baseline-epochs` needs `--baseline ce`, the baseline it sets the epochs of.',
      );
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
    const {
      spec,
      trainer,
      data,
      prefetch,
      interrupted,
      precision,
      resumedFrom,
      alreadyFinished,
      lastEpoch,
      trainSeconds,
    } = await trainRun(asked, out, options, {
      onStep: progressPrinter(quiet),
      onEpoch: (r) => say(epochLine(r, planned)),
    });
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
    if (flags['baseline'] === 'ce') {
      const baseline = await trainBaseline(flags, spec, out, options, say);
      if (baseline === undefined) {
        console.error(interruptedMessage(join(out, BASELINE_DIR), 0, 'demo'));
        return 130;
      }
      Object.assign(summary, updateSummary(out, { baseline }));
    }
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

/** The cross-entropy baseline's folder inside the demo's run folder. */
export const BASELINE_DIR = 'baseline-ce';

/**
 * `--baseline ce`: cross-entropy with the demo's flags (encoder, data, augmentation, seed) and
 * `--baseline-epochs` (default epochs × views), trained in OUT/baseline-ce (resumed there when a
 * checkpoint is left), then read out by its own classifier and by the linear probe. Returns the
 * fields the report's Baseline section shows, or undefined when a signal stopped the training.
 */
async function trainBaseline(
  flags: Record<string, string | number | boolean | undefined>,
  supcon: RunSpec,
  out: string,
  options: Parameters<typeof trainRun>[2],
  say: (s: string) => void,
): Promise<Record<string, unknown> | undefined> {
  const epochs = (flags['baseline-epochs'] as number | undefined) ?? supcon.train.epochs * supcon.train.views;
  const dir = join(out, BASELINE_DIR);
  // SupCon-only settings stay with the SupCon run; the rest (encoder, data, augmentation, seed) is shared
  const {
    method: _method,
    views: _views,
    temperature: _temperature,
    'base-temperature': _base,
    'queue-size': _queue,
    'joint-probe': _joint,
    ...shared
  } = flags;
  const spec = specFromFlags({ ...shared, method: 'ce', epochs });
  const resume = existsSync(runFiles(dir).checkpoint);
  say(`baseline: cross-entropy, ${epochs} epochs → ${dir}${resume ? ' (resumed)' : ''}`);
  const run = await trainRun(spec, dir, withoutEpochs({ ...options, resume }), {
    onStep: progressPrinter(flags['quiet'] === true),
    onEpoch: (r) => say(epochLine(r, epochs)),
  });
  const { trainSeconds } = run;
  if (run.interrupted) return undefined;
  say('baseline: linear probe on frozen features and its own classifier…');
  const evaluation = evaluateRun(run.spec, run.trainer.encoder, run.data, { classifier: run.trainer.head });
  const s = evaluation.summary;
  const iterations = run.trainer.position.iteration;
  updateSummary(dir, {
    command: 'demo --baseline ce',
    run: dir,
    method: 'ce',
    epochs,
    iterations,
    ...s,
    trainSeconds,
  });
  const fields: Record<string, unknown> = {
    run: BASELINE_DIR,
    method: 'ce',
    epochs: run.spec.train.epochs,
    views: run.spec.train.views,
    trainSeconds,
    validationAccuracy: s.validationAccuracy,
  };
  // without a test split (a flat folder) every figure is on the validation split
  if (s.testSet !== false) {
    fields['testAccuracy'] = s.testAccuracy;
    fields['classifierTestAccuracy'] = s.classifierTestAccuracy;
    fields['classifierValidationAccuracy'] = s.classifierValidationAccuracy;
  }
  return fields;
}

/** The demo's run options for another run: `--resume --epochs N` lengthens the demo's run only. */
function withoutEpochs<T extends { epochs?: number }>(options: T): T {
  const { epochs: _epochs, ...rest } = options;
  return rest as T;
}
