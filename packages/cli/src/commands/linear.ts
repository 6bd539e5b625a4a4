/**
 * `supcon linear --run DIR`: linear probe on the frozen encoder of a run (validation picks, test
 * once), with a progress line on stderr; the fitted probe is kept in DIR/probe.json for `predict`.
 */
import {
  type EvalProgress,
  evalSummaryText,
  evaluateJointProbe,
  evaluateRun,
  keepProbe,
  knnSummaryFields,
  loadJointProbe,
  updateSummary,
} from '@supcon/node';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { openRun, runReaderFlagHelp, runReaderFlagSpecs } from './run-reader.js';
import { formatTime, knnText } from './train-output.js';

export const linearCommand: Command = {
  name: 'linear',
  summary:
    'Linear probe (top-1/top-5) on the frozen encoder of a training run; keeps the probe for `predict`',
  help: [
    'Usage: supcon linear --run DIR [--epochs N | --joint] [--quiet] [--json]',
    '',
    'Computes features of the training, validation and test splits once, fits a softmax-regression',
    'classifier (weight decay chosen among 0, 1e-4, 1e-3 on validation) and reports the test set once.',
    'Also a kNN top-1 on the test set (k 200, the first 10000 training samples as neighbours; k is lowered',
    'to the bank size for smaller training splits, and summary.json says so). Results are merged into',
    'DIR/summary.json (the kNN numbers under `knn`, with their k, bank and temperature).',
    '',
    'A dataset without a test split (a folder: dataset with no train/ and test/ folders) gets a',
    'validation-only probe: fitted on the training part with one weight decay (1e-4, nothing chosen on',
    'validation), then measured with a kNN on the validation split; the output says there is no test',
    'set, and --json has `testSet: false` and no test accuracy.',
    '',
    'The probe is kept in DIR/probe.json (written atomically): its weights, the feature standardisation,',
    'the class names, the input shape and normalisation, the settings and accuracies, and the checkpoint',
    'it was fitted on. `supcon predict --run DIR IMAGE…` uses it to label new images.',
    '',
    'A progress line on stderr shows the stage (features of each split, probe epochs) and the time left;',
    'none with --quiet or --json.',
    '',
    '  --epochs N         probe epochs (default: the run config, 20 for fashion-quick)',
    '  --joint            fit nothing: measure the probe trained jointly with the encoder (a run trained',
    '                     with --joint-probe; it saw augmented views of the encoder as it trained) on',
    '                     validation, then the test set once, and keep it in DIR/probe.json',
    '  --quiet            no progress line',
    runReaderFlagHelp,
  ].join('\n'),
  async run(argv) {
    const { flags } = parseFlags(argv, {
      ...runReaderFlagSpecs,
      epochs: { kind: 'int', min: 1 },
      quiet: { kind: 'boolean' },
      joint: { kind: 'boolean' },
    });
    const joint = flags['joint'] === true;
    if (joint && flags['epochs'] !== undefined)
      throw new CliError(
        'Flags `--joint` and `--epochs` exclude each other: the joint probe is already trained.',
      );
    const { run, spec, encoder, data, checkpoint, classifier } = await openRun(flags);
    if (joint) {
      const evaluation = evaluateJointProbe(spec, encoder, data, loadJointProbe(run));
      const result = evaluation.summary;
      const probeFile = keepProbe(run, evaluation, data, checkpoint);
      updateSummary(run, { ...result, ...knnSummaryFields(result.knn) });
      if (flags['json']) console.log(JSON.stringify({ ...result, probeFile }));
      else console.log(`Joint probe: ${evalSummaryText(result)}. Kept in ${probeFile}.`);
      return 0;
    }
    const progress =
      flags['quiet'] === true || flags['json'] === true ? undefined : evalProgressPrinter('linear');
    const epochs = flags['epochs'] as number | undefined;
    const evaluation = evaluateRun(spec, encoder, data, {
      ...(classifier ? { classifier } : {}),
      ...(epochs !== undefined ? { probeEpochs: epochs } : {}),
      ...(progress ? { onProgress: progress.update } : {}),
    });
    progress?.end();
    const result = evaluation.summary;
    const probeFile = keepProbe(run, evaluation, data, checkpoint);
    // A fitted probe replaces a joint one's record (`probe: 'joint'`) in summary.json.
    updateSummary(run, { ...result, probe: undefined, ...knnSummaryFields(result.knn) });
    if (flags['json']) console.log(JSON.stringify({ ...result, probeFile }));
    else
      console.log(
        `Linear probe: ${evalSummaryText(result)}; kNN ${result.testSet ? 'test' : 'validation'} top-1 ` +
          `${knnText(result.knn, result.testSet ? 'test' : 'validation')}. Probe kept in ${probeFile}.`,
      );
    return 0;
  },
};

/** The text of one progress update, e.g. `[#####...] probe 12/60 epochs, left 8s`. */
export function evalProgressText(p: EvalProgress): string {
  const width = 20;
  const done = Math.round(width * p.fraction);
  const bar = `[${'#'.repeat(done)}${'.'.repeat(width - done)}]`;
  const left =
    p.secondsLeft === undefined
      ? 'left ?'
      : `left ${formatTime(p.secondsLeft)}${p.probeCounted ? '' : ' + probe'}`;
  return `${bar} ${p.stage} ${p.done}/${p.total} ${p.unit}, ${left}`;
}

/**
 * A progress line on stderr: rewritten in place on a terminal; otherwise (a log, a pipe) one line
 * when a stage ends and at most one every 5 s in between.
 */
export function evalProgressPrinter(command: string): { update: (p: EvalProgress) => void; end: () => void } {
  const tty = process.stderr.isTTY === true;
  let lastLine = performance.now();
  return {
    update(p) {
      const text = `${command}: ${evalProgressText(p)}`;
      if (tty) {
        process.stderr.write(`\r${text}\x1b[K`);
        return;
      }
      const now = performance.now();
      if (p.done === p.total || now - lastLine > 5000) {
        process.stderr.write(`${text}\n`);
        lastLine = now;
      }
    },
    end() {
      if (tty) process.stderr.write('\r\x1b[K');
    },
  };
}
