/**
 * Data-parallel `supcon train` over MPI ranks (the full-batch SupCon gradient; docs/distributed.md):
 *   - under a launcher (`mpirun -np N … npx supcon train …`, `srun --mpi=pmix …`) every rank runs
 *     `trainAsRank`: rank 0 reads the flags and the run folder, all ranks train in lockstep, rank 0
 *     writes the run folder, the progress and the summary;
 *   - `supcon train --processes N` (and its alias `supcon train-distributed`) is a thin wrapper that
 *     starts that under `mpirun` on this machine (`launchRanks`) and returns its exit code.
 */
import { join } from 'node:path';
import {
  DistributedTrainingError,
  killedRankMessage,
  LAUNCHER_PID_VARIABLE,
  launchedByMpi,
  loadMpi,
  localMpirun,
  type Mpi,
  mpiLoadError,
  type RankHooks,
  type RunSpec,
  startMpirun,
  trainRank,
  updateSummary,
} from '@supcon/node';
import { type StepRecord, UserError } from 'supcon';
import type { BackendChoice } from '../backend.js';
import { CliError, type Command, EXIT } from '../command.js';
import { type FlagValues, parseFlags } from '../flags.js';
import { singleProcessRefusal, trainFlagHelp, trainFlagSpecs } from './train-flags.js';
import { formatTime, interruptedMessage } from './train-output.js';
import { resumeSpec, specFromFlags } from './train-spec.js';

const flagSpecs = (processesDefault: number) => ({
  ...trainFlagSpecs,
  out: { kind: 'string' as const },
  resume: { kind: 'boolean' as const },
  processes: { kind: 'int' as const, min: 1, default: processesDefault },
  threads: { kind: 'int' as const, min: 1 },
});

/** The environment variable that carries the user's command line to the ranks (summary.json records it). */
const COMMAND_LINE_VARIABLE = 'SUPCON_COMMAND_LINE';
const commandLine = () => ['supcon', ...process.argv.slice(2)];

export const trainDistributedCommand: Command = {
  name: 'train-distributed',
  summary: 'Train like `supcon train`, data-parallel over several MPI ranks (alias of train --processes N)',
  help: [
    'Usage: supcon train-distributed --processes N [--threads T] [--out DIR] [--resume] [options]',
    '       mpirun -np N [mpirun options] npx supcon train [--out DIR] [--resume] [options]',
    '',
    'Each of N MPI ranks holds the whole model and 1/N of every batch; embeddings are all-gathered and',
    'gradients summed, so a step equals the single-process step on the whole batch (BatchNorm excepted:',
    "it normalises each rank's shard, as PyTorch DDP without SyncBatchNorm, unless --sync-bn). Writes the",
    'same run folder as `supcon train` (from rank 0). --processes N starts `mpirun` on this machine (loopback TCP,',
    '--bind-to none); on a cluster start the ranks with your launcher (docs/distributed.md). --json:',
    'the run summary with `processes`, `transport` ("mpi") and `fingerprints` (SHA-256 of every rank\'s weights).',
    '',
    '  --processes N         MPI ranks (default 2; `supcon train` defaults to 1)',
    '  --threads T           native threads per rank (OMP_NUM_THREADS; default cores / N, at least 1)',
    '  --out DIR --resume    as `supcon train`',
    trainFlagHelp({ processes: 'many' }),
  ].join('\n'),
  async run(argv) {
    if (launchedByMpi()) {
      const code = await trainUnderLauncher(argv, 'train-distributed');
      if (code !== undefined) return code;
    }
    return launchRanks(argv, 'train-distributed');
  },
};

/** The flags both paths check first: no positionals, no single-process flag, --resume with --out. */
function checkFlags(argv: string[], command: string, processesDefault: number): FlagValues {
  const { flags, positionals } = parseFlags(argv, flagSpecs(processesDefault));
  if (positionals.length > 0)
    throw new CliError(`Unexpected argument \`${positionals[0]}\`. See \`supcon ${command} --help\`.`);
  const refusal = singleProcessRefusal((name) => flags[name] !== undefined);
  if (refusal !== undefined) throw new CliError(refusal);
  if (flags['resume'] === true && flags['out'] === undefined)
    throw new CliError('Flag `--resume` needs `--out DIR`, the run folder to continue.');
  return flags;
}

/** The run the flags ask for: the stored one for --resume (refused when it would be lengthened). */
function plannedRun(argv: string[], flags: FlagValues): { spec: RunSpec; out: string; resume: boolean } {
  const resume = flags['resume'] === true;
  const continued = resume ? resumeSpec(argv, flags, flags['out'] as string) : undefined;
  if (continued?.epochs !== undefined)
    throw new CliError(
      `\`--resume --epochs ${continued.epochs}\` cannot lengthen a run over several processes yet; lengthen it in one process (\`supcon train --out ${flags['out']} --resume --epochs ${continued.epochs}\`): the checkpoints of both are the same.`,
    );
  const spec = continued ? continued.spec : specFromFlags(flags);
  const out =
    (flags['out'] as string | undefined) ??
    join('runs', `${spec.train.method}-dp-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  return { spec, out, resume };
}

/**
 * `supcon train --processes N`: checks what it can here (flags, the run spec, the run folder), then runs
 * `supcon train` on N ranks under `mpirun` with the loopback flags and OMP_NUM_THREADS per rank.
 * SIGINT/SIGTERM become SIGUSR1 for mpirun, which forwards it to every rank: they stop after the
 * same step with a checkpoint (exit 130); a second signal ends the job at once.
 */
export async function launchRanks(argv: string[], command: 'train' | 'train-distributed'): Promise<number> {
  const flags = checkFlags(argv, command, command === 'train' ? 1 : 2);
  const processes = flags['processes'] as number;
  const { spec, out, resume } = plannedRun(argv, flags);
  if (!resume && spec.train.batchSize < processes)
    throw new UserError(
      `Invalid value for argument \`processes\`. Expected at most the batch size (${spec.train.batchSize}). Received: processes=${processes}.`,
      EXIT.usage,
    );
  const missing = mpiLoadError();
  if (missing) throw new UserError(missing);
  const rankArgv = dropFlags(argv, ['processes', 'threads']);
  if (flags['out'] === undefined) rankArgv.push('--out', out);
  const threads = flags['threads'] as number | undefined;
  const bin = process.argv[1]!;
  const launch = localMpirun({
    processes,
    ...(threads === undefined ? {} : { threads }),
    command: [process.execPath, bin, 'train', ...rankArgv],
    exports: [COMMAND_LINE_VARIABLE, LAUNCHER_PID_VARIABLE],
  });
  const env = {
    ...launch.env,
    [COMMAND_LINE_VARIABLE]: JSON.stringify(commandLine()),
    [LAUNCHER_PID_VARIABLE]: String(process.pid),
  };
  const job = startMpirun(launch, { env, stdio: 'inherit', handleSignals: true });
  const { code, signal } = await job.exited;
  const killed = killedRankMessage(code, signal);
  if (killed) console.error(`supcon: ${killed}`);
  return code ?? EXIT.failed;
}

/** `argv` without the named flags and their values (`--name V` or `--name=V`). */
function dropFlags(argv: string[], names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (names.some((n) => a === `--${n}`)) i++;
    else if (!names.some((n) => a.startsWith(`--${n}=`))) out.push(a);
  }
  return out;
}

/**
 * `supcon train` in a process an MPI launcher started: every rank trains in lockstep (trainRank);
 * undefined when the job has one rank (then it is an ordinary one-process run).
 */
export async function trainUnderLauncher(argv: string[], command: string): Promise<number | undefined> {
  const mpi = loadMpi().init();
  if (mpi.size === 1) {
    mpi.finalize();
    return undefined;
  }
  try {
    return await trainAsRank(mpi, argv, command);
  } catch (error) {
    // An agreed failure reaches every rank: rank 0 says it, the others end with its code in silence.
    if (mpi.rank !== 0 && error instanceof DistributedTrainingError) {
      mpi.finalize();
      return error.exitCode;
    }
    if (error instanceof DistributedTrainingError) mpi.finalize();
    throw error;
  }
}

async function trainAsRank(mpi: Mpi, argv: string[], command: string): Promise<number> {
  const leader = mpi.rank === 0;
  // Rank 0 alone reads the flags and the run folder; its plan (or its error) goes to every rank.
  let planned:
    | { spec: RunSpec; out: string; resume: boolean; backend: BackendChoice; threads?: number }
    | undefined;
  let flags: FlagValues = {};
  let problem: { message: string; exitCode: number } | undefined;
  if (leader) {
    try {
      flags = checkFlags(argv, command, mpi.size);
      const processes = flags['processes'] as number;
      if (argv.some((a) => a === '--processes' || a.startsWith('--processes=')) && processes !== mpi.size)
        throw new CliError(
          `Invalid value for \`--processes\` under an MPI launcher. Expected ${mpi.size}, the ranks it started (or leave the flag out). Received: ${processes}.`,
        );
      const threads = flags['threads'] as number | undefined;
      planned = {
        ...plannedRun(argv, flags),
        backend: flags['backend'] as BackendChoice,
        ...(threads === undefined ? {} : { threads }),
      };
    } catch (error) {
      problem = {
        message: (error as Error).message,
        exitCode: error instanceof UserError ? error.exitCode : 1,
      };
    }
  }
  const bytes = mpi.broadcastBytes(
    leader ? new TextEncoder().encode(JSON.stringify({ planned, problem })) : undefined,
  );
  const shared = JSON.parse(new TextDecoder().decode(bytes)) as {
    planned?: typeof planned;
    problem?: typeof problem;
  };
  if (shared.problem) {
    mpi.finalize();
    if (leader) throw new UserError(shared.problem.message, shared.problem.exitCode);
    return shared.problem.exitCode;
  }
  const { spec, out, resume, backend, threads } = shared.planned!;
  // Read by the native engine's OpenMP when it loads, which is later (trainRank selects the backend).
  if (threads !== undefined) process.env['OMP_NUM_THREADS'] = String(threads);
  const quiet = leader && (flags['quiet'] === true || flags['json'] === true);
  const recorded = process.env[COMMAND_LINE_VARIABLE];
  const result = await trainRank(
    {
      spec,
      runDir: out,
      resume,
      backend,
      handleSignals: true,
      commandLine: recorded ? (JSON.parse(recorded) as string[]) : commandLine(),
    },
    leader && !quiet ? progress(spec.train.batchSize, spec.train.epochs) : {},
  );
  if (leader) {
    updateSummary(out, { precision: result.precision });
    if (process.stderr.isTTY && !quiet) process.stderr.write('\n');
    if (flags['json']) console.log(JSON.stringify({ method: spec.train.method, ...result }));
    else
      console.log(
        `Trained ${spec.train.method} for ${result.iterations - result.resumedFrom} steps on ${result.processes} MPI ranks ` +
          `(${result.threadsPerProcess || '?'} thread(s) each, ${result.backend}, ${result.precision}) in ${result.seconds.toFixed(1)} s → ${out}`,
      );
    if (result.interrupted)
      console.error(
        recorded
          ? interruptedMessage(out, result.iterations, 'train').replace(
              'supcon train --out',
              `supcon train --processes ${result.processes} --out`,
            )
          : `Interrupted after step ${result.iterations}; the checkpoint is written. Continue with the same launch and: supcon train --out ${out} --resume`,
      );
  }
  mpi.finalize();
  return result.interrupted ? EXIT.interrupted : EXIT.ok;
}

/** A progress line on stderr (epoch, step, loss, lr, images per second, time left). */
function progress(batch: number, epochs: number): RankHooks {
  let smoothed = 0;
  let perEpoch = 0;
  let total = 0;
  return {
    onReady: (info) => {
      perEpoch = info.stepsPerEpoch;
      total = info.totalIterations;
    },
    onStep: (r: StepRecord) => {
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
