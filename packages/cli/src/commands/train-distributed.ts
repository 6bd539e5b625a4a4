/**
 * `supcon train-distributed`: `supcon train` over P worker processes (data-parallel, the full-batch
 * SupCon gradient; see docs/distributed.md). Same flags and run folder as `supcon train`.
 */
import { join } from 'node:path';
import { type DistributedHooks, trainDistributed } from '@supcon/node';
import type { BackendChoice } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { SINGLE_PROCESS_FLAGS, trainFlagHelp, trainFlagSpecs } from './train-flags.js';
import { formatTime, interruptedMessage } from './train-output.js';
import { resumeSpec, specFromFlags } from './train-spec.js';

export const trainDistributedCommand: Command = {
  name: 'train-distributed',
  summary: 'Train like `supcon train`, data-parallel over several worker processes',
  help: [
    'Usage: supcon train-distributed --processes N [--threads T] [--out DIR] [--resume] [options]',
    '',
    'Each of N worker processes holds the whole model and 1/N of every batch; embeddings are all-gathered',
    'and gradients summed, so a step equals the single-process step on the whole batch (BatchNorm',
    "excepted: it normalises each worker's shard, as PyTorch DDP without SyncBatchNorm). Writes the same",
    'run folder as `supcon train` (checkpoint from worker 0).',
    '',
    '  --processes N         worker processes (default 2)',
    '  --threads T           native threads per worker (OMP_NUM_THREADS; default cores / N, at least 1)',
    '  --out DIR --resume    as `supcon train`',
    trainFlagHelp({ processes: 'many' }),
  ].join('\n'),
  async run(argv) {
    const { flags, positionals } = parseFlags(argv, {
      ...trainFlagSpecs,
      out: { kind: 'string' },
      resume: { kind: 'boolean' },
      processes: { kind: 'int', min: 1, default: 2 },
      threads: { kind: 'int', min: 1 },
    });
    if (positionals.length > 0)
      throw new CliError(
        `Unexpected argument \`${positionals[0]}\`. See \`supcon train-distributed --help\`.`,
      );
    if (SINGLE_PROCESS_FLAGS.some((name) => flags[name] !== undefined))
      throw new CliError(
        `Flags ${SINGLE_PROCESS_FLAGS.map((name) => `\`--${name}\``).join(' and ')} do not apply: each worker augments its shard.`,
      );
    const resume = flags['resume'] === true;
    if (resume && flags['out'] === undefined)
      throw new CliError('Flag `--resume` needs `--out DIR`, the run folder to continue.');
    // As `supcon train --resume`: the stored run, refused without a checkpoint or with other flags.
    const continued = resume ? resumeSpec(argv, flags, flags['out'] as string) : undefined;
    if (continued?.epochs !== undefined)
      throw new CliError(
        `\`--resume --epochs ${continued.epochs}\` cannot lengthen a run over several processes yet; lengthen it in one process (\`supcon train --out ${flags['out']} --resume --epochs ${continued.epochs}\`): the checkpoints of both commands are the same.`,
      );
    const spec = continued ? continued.spec : specFromFlags(flags);
    const out =
      (flags['out'] as string | undefined) ??
      join('runs', `${spec.train.method}-dp-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    const quiet = flags['quiet'] === true || flags['json'] === true;
    const threads = flags['threads'] as number | undefined;
    const result = await trainDistributed(
      spec,
      out,
      {
        processes: flags['processes'] as number,
        ...(threads === undefined ? {} : { threadsPerProcess: threads }),
        backend: flags['backend'] as BackendChoice,
        resume,
        handleSignals: true,
      },
      quiet ? {} : progress(spec.train.batchSize, spec.train.epochs),
    );
    if (!quiet && process.stderr.isTTY) process.stderr.write('\n');
    if (flags['json']) console.log(JSON.stringify(result));
    else
      console.log(
        `Trained ${spec.train.method} for ${result.iterations} steps on ${result.processes} processes ` +
          `(${result.threadsPerProcess} thread(s) each, ${result.backend}, ${result.precision}) in ${result.seconds.toFixed(1)} s → ${out}`,
      );
    if (result.interrupted) {
      console.error(interruptedMessage(out, result.iterations, 'train-distributed'));
      return 130;
    }
    return 0;
  },
};

/** A progress line on stderr (epoch, step, loss, lr, images per second, time left). */
function progress(batch: number, epochs: number): DistributedHooks {
  let smoothed = 0;
  let perEpoch = 0;
  let total = 0;
  return {
    onReady: (info) => {
      perEpoch = info.stepsPerEpoch;
      total = info.totalIterations;
    },
    onStep: (r) => {
      smoothed = smoothed === 0 ? r.imagesPerSecond : 0.9 * smoothed + 0.1 * r.imagesPerSecond;
      const left = ((total - r.iteration - 1) * batch) / Math.max(smoothed, 1e-9);
      const line =
        `epoch ${r.epoch + 1}/${epochs} step ${r.step + 1}/${perEpoch} loss ${r.loss.toFixed(4)}` +
        ` lr ${r.lr.toPrecision(3)} ${smoothed.toFixed(0)} img/s left ${formatTime(left)}`;
      if (process.stderr.isTTY) process.stderr.write(`\r${line}\x1b[K`);
      else if ((r.iteration + 1) % 20 === 0 || r.iteration + 1 === total) process.stderr.write(`${line}\n`);
    },
  };
}
