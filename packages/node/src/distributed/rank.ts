/**
 * One MPI rank of a data-parallel run: what `trainRun` does in one process, in lockstep with the other
 * ranks (`mpirun -np N npx supcon train …`, or `trainDistributed`, which starts that). Every rank runs
 * this same function:
 *
 *   1. rank 0 settles the run (the stored spec on resume, else the given one resolved) and broadcasts
 *      it, with the checkpoint's bytes on resume: the other ranks need no access to the run folder;
 *   2. every rank selects the backend, loads the data set (each from its own disk), builds the
 *      networks (same seed: same initial weights) and restores the checkpoint; the ranks then agree
 *      (an all-gather of each one's outcome) that all succeeded, or all end with the first error;
 *   3. rank 0 alone writes the run folder (config.json, metrics.jsonl, checkpoint.bin, the exported
 *      encoder when the run finishes) through the same run loop as `trainRun` (run-loop.ts), so every
 *      tool reads it as a normal run;
 *   4. the ranks step a `DataParallelTrainer` in that loop: per step one all-gather of the embeddings and one fused
 *      all-reduce of gradients, BatchNorm buffers and the stop flag (collectives.ts); with
 *      `train.syncBatchNorm`, two more small all-reduces per BatchNorm layer (its statistics, then its
 *      gradient's sums) through the same collectives, and no BatchNorm buffers in the step's one.
 *
 * A failure inside the loop cannot be agreed on (the other ranks are waiting in a collective), so the
 * rank prints `rank R: <message>` and calls MPI_Abort: the launcher ends every rank at once.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMpi, type Mpi, threadsPerRank } from '@supcon/mpi';
import {
  check,
  DataParallelTrainer,
  EXIT_FAILED,
  type StepRecord,
  type TrainerState,
  UserError,
} from 'supcon';
import { applyEnginePrecision, type BackendChoice, selectBackend } from '../backend.js';
import type { Dataset } from '../data/index.js';
import { loadCheckpoint } from '../train/checkpoint.js';
import { updateSummary } from '../train/evaluate.js';
import { processCommandLine, trainAugmenter } from '../train/run-common.js';
import { type MetricsEpochRecord, runFiles } from '../train/run-folder.js';
import { openRunFolder, runLoop } from '../train/run-loop.js';
import { buildNetworks, prepareData, readResumableSpec } from '../train/session.js';
import type { RunSpec } from '../train/spec.js';
import { resolveRunSpec } from '../train/spec-check.js';
import {
  agree,
  agreeAsync,
  DistributedTrainingError,
  decoder,
  encoder,
  failure,
  fingerprint,
} from './agreement.js';
import { MpiCollectives } from './collectives.js';

export interface RankJob {
  /** The run to train (rank 0's is used on every rank; on resume, the stored one). */
  spec: RunSpec;
  runDir: string;
  resume?: boolean;
  /** Default 'auto' (native when it loads, else cpu). */
  backend?: BackendChoice;
  /** Use this dataset instead of loading `spec.data.dataset` (each rank passes its own copy). */
  dataset?: Dataset;
  /** Stop (checkpoint written) before the step that would pass this many iterations; for tests and benchmarks. */
  stopAfterIterations?: number;
  /** Stop after the current step on SIGINT, SIGTERM, SIGUSR1 or SIGUSR2 (every rank after the same step). */
  handleSignals?: boolean;
  /** Recorded in summary.json (default: this process's command line). */
  commandLine?: string[];
}

export interface RankHooks {
  /** Rank 0 has built and restored its trainer. */
  onReady?: (info: {
    backend: string;
    resumedFrom: number;
    stepsPerEpoch: number;
    totalIterations: number;
  }) => void;
  /** Rank 0's step records (after logging). */
  onStep?: (r: StepRecord) => void;
  /** Rank 0's epoch records (with the kNN monitor's accuracy when `knnK > 0`). */
  onEpoch?: (r: MetricsEpochRecord) => void;
  /** Every rank, after each step; a throw here is a rank failure (MPI_Abort), as in the step itself. */
  afterStep?: (r: StepRecord, rank: number) => void;
}

export interface DistributedResult {
  runDir: string;
  processes: number;
  /** The collectives' transport. */
  transport: 'mpi';
  /** OMP_NUM_THREADS of rank 0 (the native engine's threads). */
  threadsPerProcess: number;
  backend: string;
  /** The compute precision the ranks ran in (the spec's unless the engine could not run it). */
  precision: 'fp32' | 'bf16';
  /** Whether BatchNorm used the global batch's statistics (`train.syncBatchNorm`) or each shard's. */
  syncBatchNorm: boolean;
  /** Iterations done (counting those before a resume). */
  iterations: number;
  resumedFrom: number;
  interrupted: boolean;
  /** SHA-256 of each rank's final variables, in rank order: all equal when the ranks stayed in step. */
  fingerprints: string[];
  seconds: number;
}

/** What rank 0 settles and broadcasts before anything loads. */
interface Plan {
  spec: RunSpec;
  runDir: string;
  resume: boolean;
  stopAfterIterations?: number;
  commandLine: string[];
  error?: { message: string; exitCode: number };
}

/** Rank 0's plan on every rank, and on resume the checkpoint (read by rank 0, sent to the others). */
function settle(mpi: Mpi, job: RankJob): { plan: Plan; saved?: TrainerState } {
  let plan: Plan | undefined;
  let bytes: Uint8Array | undefined;
  if (mpi.rank === 0) {
    try {
      const resume = job.resume === true;
      const files = runFiles(job.runDir);
      let spec: RunSpec;
      if (resume) spec = resolveRunSpec(readResumableSpec(job.runDir));
      else {
        check(
          !existsSync(files.checkpoint),
          'out',
          'a folder without a previous run (or pass --resume to continue it)',
          job.runDir,
        );
        spec = resolveRunSpec(job.spec);
      }
      check(
        spec.train.batchSize >= mpi.size,
        'processes',
        `at most the batch size (${spec.train.batchSize})`,
        mpi.size,
      );
      if (resume) bytes = readFileSync(files.checkpoint);
      plan = {
        spec,
        runDir: job.runDir,
        resume,
        commandLine: job.commandLine ?? processCommandLine(),
        ...(job.stopAfterIterations === undefined ? {} : { stopAfterIterations: job.stopAfterIterations }),
      };
    } catch (error) {
      const f = failure(error);
      plan = {
        spec: job.spec,
        runDir: job.runDir,
        resume: false,
        commandLine: [],
        error: { message: f.message!, exitCode: f.exitCode! },
      };
    }
  }
  const received = JSON.parse(
    decoder.decode(mpi.broadcastBytes(mpi.rank === 0 ? encoder.encode(JSON.stringify(plan)) : undefined)),
  ) as Plan;
  if (received.error) throw new DistributedTrainingError(received.error.message, received.error.exitCode);
  if (!received.resume) return { plan: received };
  const checkpoint = mpi.broadcastBytes(bytes);
  if (mpi.rank === 0) return { plan: received, saved: loadCheckpoint(runFiles(job.runDir).checkpoint).state };
  // The checkpoint reader takes a file: the other ranks parse rank 0's bytes from a private copy.
  const dir = mkdtempSync(join(tmpdir(), 'supcon-rank-'));
  try {
    const copy = runFiles(dir).checkpoint;
    writeFileSync(copy, checkpoint);
    return { plan: received, saved: loadCheckpoint(copy).state };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Trains one rank of the run; resolves on every rank with the same result (rank 0's view of the run,
 * every rank's fingerprint). Initialises MPI if needed and leaves it initialised (the caller
 * finalises). Throws `DistributedTrainingError` on every rank when the run cannot start.
 */
export async function trainRank(job: RankJob, hooks: RankHooks = {}): Promise<DistributedResult> {
  const started = performance.now();
  const mpi = loadMpi().init();
  // The native engine's threads: the cores shared by the ranks on this node, unless the launch says.
  process.env['OMP_NUM_THREADS'] ??= String(threadsPerRank(mpi.localSize));
  const collectives = new MpiCollectives(mpi);
  // Listening from the start: a stop asked for during the setup rides on the first step's all-reduce
  // (and an unhandled SIGUSR1 would start Node's inspector instead of stopping the rank).
  const onSignal = () => collectives.requestStop();
  const signals = ['SIGINT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2'] as const;
  if (job.handleSignals) for (const s of signals) process.on(s, onSignal);
  try {
    return await trainInLockstep(mpi, collectives, job, hooks, started);
  } finally {
    for (const s of signals) process.off(s, onSignal);
  }
}

async function trainInLockstep(
  mpi: Mpi,
  collectives: MpiCollectives,
  job: RankJob,
  hooks: RankHooks,
  started: number,
): Promise<DistributedResult> {
  const { rank } = collectives;
  const { plan, saved } = settle(mpi, job);
  const { spec, runDir } = plan;
  let backend = '';
  let precision: 'fp32' | 'bf16' = 'fp32';
  let trainer: DataParallelTrainer | undefined;
  let context: Awaited<ReturnType<typeof build>> | undefined;
  const build = async () => {
    const data = await prepareData(spec, job.dataset);
    const { encoder, head } = buildNetworks(spec, data);
    const { steps, augmenter } = trainAugmenter(spec, data);
    const o = augmenter.output;
    const t = new DataParallelTrainer({
      config: spec.train,
      encoder,
      head,
      data: data.train,
      makeViews: (images, count, opts) => augmenter.apply(images, count, opts),
      viewShape: [o.height, o.width, o.channels],
      collectives,
    });
    if (saved) t.restore(saved);
    return { data, encoder, steps, trainer: t };
  };
  const outcomes = await agreeAsync(mpi, async () => {
    backend = await selectBackend(job.backend ?? 'auto', rank === 0 ? { warn: (l) => console.error(l) } : {});
    // Every rank runs the same precision; rank 0 alone says so when bf16 falls back to fp32.
    const warn = (line: string) => {
      if (rank === 0) process.stderr.write(`${line}\n`);
    };
    precision = await applyEnginePrecision(backend, spec.precision ?? 'fp32', { warn });
    context = await build();
    trainer = context.trainer;
    return { backend, precision };
  });
  const odd = outcomes.findIndex((o) => o.backend !== backend || o.precision !== precision);
  if (odd >= 0)
    throw new DistributedTrainingError(
      `rank ${odd} runs the ${outcomes[odd]!.backend} backend in ${outcomes[odd]!.precision}, rank 0 the ${backend} backend in ${precision}: every rank must compute alike (install the same engine everywhere, or pass --backend cpu).`,
    );
  const t = trainer!;
  const resumedFrom = saved?.iteration ?? 0;
  // Rank 0 writes the run folder only now that every rank could start; then all agree it could.
  agree(mpi, () => {
    if (rank !== 0) return undefined;
    openRunFolder(runDir, {
      spec,
      writeSpec: !saved,
      commandLine: plan.commandLine,
      ...(saved ? { resumedFrom: saved.iteration } : {}),
    });
    updateSummary(runDir, { syncBatchNorm: spec.train.syncBatchNorm === true });
    return undefined;
  });
  hooks.onReady?.({
    backend,
    resumedFrom,
    stepsPerEpoch: t.stepsPerEpoch,
    totalIterations: t.totalIterations,
  });

  // The loop of one process (run-loop.ts); rank 0 writes, and the stop is the all-reduced flag.
  let interrupted = false;
  try {
    ({ stopped: interrupted } = await runLoop({
      trainer: t,
      spec,
      runDir,
      data: context!.data,
      evalSteps: context!.steps.eval,
      writes: rank === 0,
      stop: () => collectives.stopRequested,
      ...(plan.stopAfterIterations === undefined ? {} : { stopAfterIterations: plan.stopAfterIterations }),
      yieldBetweenSteps: job.handleSignals === true,
      beforeStep: () => {
        if (launcherGone()) collectives.requestStop();
      },
      ...(hooks.onStep ? { onStep: hooks.onStep } : {}),
      ...(hooks.onEpoch ? { onEpoch: hooks.onEpoch } : {}),
      afterStep: (r) => hooks.afterStep?.(r, rank),
    }));
  } catch (error) {
    abortRank(mpi, error);
  }
  const fingerprints = [...mpi.allGather(Buffer.from(fingerprint(t.state()), 'hex'))].reduce<string[]>(
    (out, byte, i) => {
      if (i % 32 === 0) out.push('');
      out[out.length - 1] += byte.toString(16).padStart(2, '0');
      return out;
    },
    [],
  );
  const threads = Number(process.env['OMP_NUM_THREADS']);
  return {
    runDir,
    processes: collectives.size,
    transport: 'mpi',
    threadsPerProcess: Number.isInteger(threads) && threads > 0 ? threads : 0,
    backend,
    precision,
    syncBatchNorm: spec.train.syncBatchNorm === true,
    iterations: t.position.iteration,
    resumedFrom,
    interrupted,
    fingerprints,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The environment variable naming the process that started mpirun on this machine (launch.ts). */
export const LAUNCHER_PID_VARIABLE = 'SUPCON_LAUNCHER_PID';

/**
 * Whether the process that started mpirun here (`supcon train --processes N`, `trainDistributed`) has
 * died, e.g. by SIGKILL: mpirun runs in its own process group and would train on, so the ranks stop
 * after the next step with a checkpoint, as on a signal.
 */
function launcherGone(): boolean {
  const pid = Number(process.env[LAUNCHER_PID_VARIABLE]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * A rank failed where the others cannot hear of it (they wait in a collective): print one line naming
 * the rank and end the whole job with MPI_Abort, the error's exit code (1 unless a UserError's).
 */
export function abortRank(mpi: Mpi, error: unknown): never {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`rank ${mpi.rank}: ${message}\n`);
  return mpi.abort(error instanceof UserError ? error.exitCode : EXIT_FAILED);
}
