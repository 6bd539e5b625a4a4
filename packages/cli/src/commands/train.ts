import { encoderName, launchedByMpi, trainRun, updateSummary } from '@supcon/node';
import { CliError, type Command } from '../command.js';
import { type FlagSpec, parseFlags } from '../flags.js';
import { launchRanks, trainUnderLauncher } from './train-distributed.js';
import { trainFlagHelp, trainFlagSpecs } from './train-flags.js';
import {
  epochLine,
  finalMetrics,
  finishedMessage,
  interruptedMessage,
  prefetchLine,
  progressPrinter,
} from './train-output.js';
import { prepareRun, resumeSpec, specFromFlags } from './train-spec.js';

/** Every flag `supcon train` accepts (also how `supcon sweep` checks its train flags up front). */
export const trainCommandFlagSpecs: Record<string, FlagSpec> = {
  ...trainFlagSpecs,
  out: { kind: 'string' },
  resume: { kind: 'boolean' },
  processes: { kind: 'int', min: 1, default: 1 },
  threads: { kind: 'int', min: 1 },
};

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train an encoder with SupCon, SimCLR or cross-entropy into a run folder',
  help: [
    'Usage: supcon train [--out DIR] [--resume] [options]',
    '',
    'Writes DIR/config.json, DIR/metrics.jsonl (one JSON record per step and epoch) and DIR/checkpoint.bin',
    '(atomic, every --checkpoint-every steps and at each epoch end), and prints a line per epoch (loss,',
    'kNN validation top-1, training accuracy for ce, time). --json: the run summary with the final `loss`,',
    '`knn` (k, bank, validation top-1), `trainAccuracy` (ce), `epochs` and `epochsDone`.',
    '',
    '  --out DIR             run folder (default runs/<method>-<time>)',
    '  --resume              continue the run in --out exactly (weights, optimiser state, schedule position,',
    '                        data order, augmentation draws) as its config.json records it; refused when DIR',
    '                        has no checkpoint, or when another flag would change the run. A finished run',
    '                        says so and trains nothing',
    '  --resume --epochs N   lengthen the run to N epochs (more than recorded): from the checkpoint on, the',
    '                        schedule is the one of an N-epoch run (a cosine rises back to its value there);',
    '                        config.json gets train.epochs N and an entry in `extensions`',
    '  --processes N         data-parallel over N MPI ranks on this machine (runs mpirun; same as',
    '                        `supcon train-distributed`; default 1). Under a launcher (`mpirun -np N npx',
    '                        supcon train …`) the ranks train data-parallel without it (docs/distributed.md)',
    '  --threads T           with --processes: native threads per rank (default cores / N, at least 1)',
    trainFlagHelp(),
  ].join('\n'),
  async run(argv) {
    if (launchedByMpi()) {
      const code = await trainUnderLauncher(argv, 'train');
      if (code !== undefined) return code;
    }
    const { flags, positionals } = parseFlags(argv, trainCommandFlagSpecs);
    if ((flags['processes'] as number) > 1) return launchRanks(argv, 'train');
    if (flags['threads'] !== undefined)
      throw new CliError(
        'Flag `--threads` needs `--processes N` with N > 1 (it sets the native threads of each MPI rank).',
      );
    if (positionals.length > 0)
      throw new CliError(`Unexpected argument \`${positionals[0]}\`. See \`supcon train --help\`.`);
    const resume = flags['resume'] === true;
    if (resume && flags['out'] === undefined)
      throw new CliError('Flag `--resume` needs `--out DIR`, the run folder to continue.');
    const { spec, epochs } = resume
      ? resumeSpec(argv, flags, flags['out'] as string)
      : { spec: specFromFlags(flags), epochs: undefined };
    const quiet = flags['quiet'] === true;
    const { out, backend, options } = await prepareRun(
      flags,
      spec.train.method,
      encoderName(spec.model.encoder),
      resume,
      epochs,
    );
    const started = performance.now();
    const result = await trainRun(spec, out, options, {
      onStep: progressPrinter(quiet),
      onEpoch: (r) => {
        if (!quiet) console.error(epochLine(r, epochs ?? spec.train.epochs));
      },
    });
    const { trainer, resumedFrom, prefetch, interrupted, precision, alreadyFinished, trainSeconds } = result;
    const summary = {
      run: out,
      backend,
      precision,
      method: trainer.config.method,
      iterations: trainer.position.iteration,
      resumedFrom,
      alreadyFinished,
      interrupted,
      prefetch,
      ...finalMetrics(result),
      seconds: (performance.now() - started) / 1000,
      // Every process's training time summed (a resume after a kill counts the killed one's part).
      trainSeconds,
    };
    // The precision in effect (config.json holds the one asked for).
    updateSummary(out, { precision });
    if (flags['json']) console.log(JSON.stringify(summary));
    else if (alreadyFinished)
      console.log(finishedMessage(out, trainer.config.epochs, summary.iterations, 'train'));
    else {
      console.log(
        `Trained ${summary.method} for ${summary.iterations - resumedFrom} steps in ${summary.seconds.toFixed(1)} s` +
          `${resumedFrom > 0 ? ` (steps ${resumedFrom + 1}–${summary.iterations})` : ''} → ${out}`,
      );
      console.log(prefetchLine(prefetch));
    }
    if (interrupted) {
      console.error(interruptedMessage(out, summary.iterations));
      return 130;
    }
    return 0;
  },
};
