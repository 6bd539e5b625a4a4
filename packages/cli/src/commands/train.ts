/** `supcon train`: trains an encoder (supcon, simclr or ce) into a run folder; `--resume` continues it. */
import { join } from 'node:path';
import { trainRun, updateSummary } from '@supcon/node';
import { type BackendChoice, precisionSetter, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { type FlagSpec, parseFlags } from '../flags.js';
import {
  argumentErrorsAsCliErrors,
  interruptedMessage,
  prefetchLine,
  progressPrinter,
  runOptionsFromFlags,
  specFromFlags,
  trainFlagHelp,
  trainFlagSpecs,
} from './train-common.js';
import { trainDistributedCommand } from './train-distributed.js';

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
    '(atomic, every --checkpoint-every steps and at each epoch end). --resume continues DIR exactly',
    '(weights, optimiser state, schedule position, data order and augmentation draws).',
    '',
    '  --out DIR             run folder (default runs/<method>-<time>)',
    '  --resume              continue the run in --out (its config.json wins over other flags)',
    '  --processes N         data-parallel over N worker processes (same as `supcon train-distributed`; default 1)',
    '  --threads T           with --processes: native threads per worker',
    trainFlagHelp,
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, trainCommandFlagSpecs);
    if ((flags['processes'] as number) > 1) return trainDistributedCommand.run(argv);
    if (flags['threads'] !== undefined)
      throw new CliError(
        'Flag `--threads` needs `--processes N` with N > 1 (it sets the threads of each worker).',
      );
    if (positionals.length > 0)
      throw new CliError(`Unexpected argument \`${positionals[0]}\`. See \`supcon train --help\`.`);
    const resume = flags['resume'] === true;
    if (resume && flags['out'] === undefined)
      throw new CliError('Flag `--resume` needs `--out DIR`, the run folder to continue.');
    const spec = await argumentErrorsAsCliErrors(() => specFromFlags(flags));
    const out =
      (flags['out'] as string | undefined) ??
      join('runs', `${spec.train.method}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    const backend = await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
    const options = { ...runOptionsFromFlags(flags), resume, applyPrecision: precisionSetter(backend) };
    const started = performance.now();
    const { trainer, resumedFrom, prefetch, interrupted, precision } = await argumentErrorsAsCliErrors(() =>
      trainRun(spec, out, options, { onStep: progressPrinter(flags['quiet'] === true) }),
    );
    const summary = {
      run: out,
      backend,
      precision,
      method: trainer.config.method,
      iterations: trainer.position.iteration,
      resumedFrom,
      interrupted,
      prefetch,
      seconds: (performance.now() - started) / 1000,
    };
    // The precision in effect (config.json holds the one asked for).
    updateSummary(out, { precision });
    if (flags['json']) console.log(JSON.stringify(summary));
    else {
      console.log(
        `Trained ${summary.method} for ${summary.iterations} steps in ${summary.seconds.toFixed(1)} s → ${out}`,
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
