/**
 * `trainDistributed`: data-parallel SupCon training in P child processes on one machine, writing the
 * same run folder as `trainRun` (config.json, metrics.jsonl, checkpoint.bin from rank 0), so
 * `supcon linear`, `eval`, `embed` and `--resume` work on it.
 *
 * The coordinator (this process) forks the workers with OMP_NUM_THREADS set, answers their
 * collectives (all-gather: concatenation in rank order; all-reduce: sum in rank order) over one socket
 * pair each, logs rank 0's records, and watches every child: a worker that exits early or reports an
 * error ends the run with that reason, after the other workers are killed and reaped.
 *
 * @example
 *   const result = await trainDistributed(presetSpec('fashion-quick'), 'runs/dp', { processes: 2 });
 */
import { type ChildProcess, fork } from 'node:child_process';
import { appendFileSync, existsSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { check, type EpochRecord, EXIT_FAILED, type StepRecord, UserError } from 'supcon';
import type { Dataset } from '../data/index.js';
import { writeFileDurable } from '../train/checkpoint.js';
import { ensureOutputFolder } from '../train/output.js';
import { processCommandLine, recordInvocation, truncateMetrics } from '../train/run-common.js';
import { readSpec, runFiles } from '../train/session.js';
import type { RunSpec } from '../train/spec.js';
import { resolveRunSpec } from '../train/spec-check.js';
import { FLAG_STOP, FrameReader, frame, OP_GATHER, OP_SUM } from './pipe.js';
import type { WorkerInit, WorkerMessage } from './worker.js';

export interface DistributedOptions {
  /** Worker processes (each holds a full model and 1/processes of every batch). */
  processes: number;
  /** Native threads per worker (OMP_NUM_THREADS). Default: max(1, floor(cores / processes)). */
  threadsPerProcess?: number;
  /** Backend of the workers. Default 'auto' (native when it loads, else cpu). */
  backend?: 'auto' | 'native' | 'cpu';
  resume?: boolean;
  /** Use this dataset instead of loading `spec.data.dataset` (sent to every worker). */
  dataset?: Dataset;
  /** Stop cleanly after the current step on SIGINT/SIGTERM (every rank stops at the same step). */
  handleSignals?: boolean;
}

export interface DistributedHooks {
  onStart?: (workers: { rank: number; pid: number }[]) => void;
  /** Rank 0 has built its data and model (after a resume: restored); for progress displays. */
  onReady?: (info: {
    backend: string;
    resumedFrom: number;
    stepsPerEpoch: number;
    totalIterations: number;
  }) => void;
  onStep?: (r: StepRecord) => void;
  onEpoch?: (r: EpochRecord & { knnAccuracy?: number }) => void;
  /** Asked at each all-reduce; true stops every rank after that step (checkpoint written). */
  stop?: () => boolean;
  /**
   * Every all-reduce result as the workers receive it: the summed gradients of the trainable
   * parameters (encoder then head, in `parameters()` order), then the summed BatchNorm buffers.
   */
  onAllReduce?: (iteration: number, sum: Float32Array) => void;
}

export interface DistributedResult {
  runDir: string;
  processes: number;
  threadsPerProcess: number;
  backend: string;
  /** The compute precision the ranks ran in (the spec's unless the engine could not run it). */
  precision: 'fp32' | 'bf16';
  /** Iterations done (counting those before a resume). */
  iterations: number;
  resumedFrom: number;
  interrupted: boolean;
  /** SHA-256 of each rank's final variables, in rank order: all equal when the ranks stayed in step. */
  fingerprints: string[];
  seconds: number;
}

/**
 * A worker that failed, or could not start; the exit code is the failing worker's error's (2 for a bad
 * argument only a worker could see, as `supcon train` in one process would exit), else 1.
 */
export class DistributedTrainingError extends UserError {}

interface Rank {
  rank: number;
  child: ChildProcess;
  wire: Writable;
  reader: FrameReader;
  exited: Promise<void>;
  done?: { iteration: number; fingerprint: string };
  error?: { message: string; exitCode: number };
  backend?: string;
  precision?: 'fp32' | 'bf16';
  ready?: number;
}

export async function trainDistributed(
  spec: RunSpec,
  runDir: string,
  options: DistributedOptions,
  hooks: DistributedHooks = {},
): Promise<DistributedResult> {
  const { processes } = options;
  check(Number.isInteger(processes) && processes >= 1, 'processes', 'an integer >= 1', processes);
  const threads = options.threadsPerProcess ?? Math.max(1, Math.floor(availableParallelism() / processes));
  check(Number.isInteger(threads) && threads >= 1, 'threadsPerProcess', 'an integer >= 1', threads);
  // The memory queue and gradient caching belong to the one-process Trainer for now.
  check(
    !(spec.train.queueSize > 0),
    'queueSize',
    '0 with several processes (not supported yet)',
    spec.train.queueSize,
  );
  check(
    !(spec.train.chunkRows > 0),
    'chunkRows',
    '0 with several processes (not supported yet)',
    spec.train.chunkRows,
  );
  if (!options.resume)
    check(
      spec.train.batchSize >= processes,
      'processes',
      `at most the batch size (${spec.train.batchSize})`,
      processes,
    );
  const files = runFiles(runDir);
  const resume = options.resume === true;
  // The workers load the data: if they fail before the first checkpoint, what this call created goes.
  const created = !existsSync(runDir);
  if (resume) {
    spec = readSpec(runDir);
    check(existsSync(files.checkpoint), 'resume', `a run folder with checkpoint.bin`, runDir);
  } else {
    check(!existsSync(files.checkpoint), 'out', 'a folder without a previous run (or resume it)', runDir);
    spec = resolveRunSpec(spec);
  }
  if (!resume) {
    ensureOutputFolder('out', runDir);
    writeFileDurable(files.config, `${JSON.stringify(spec, null, 2)}\n`);
    recordInvocation(files.summary, processCommandLine()); // for the run report, as trainRun does
  }
  const removeIfUnstarted = () => {
    if (resume || existsSync(files.checkpoint)) return;
    if (created) rmSync(runDir, { recursive: true, force: true });
    else for (const f of [files.config, files.metrics, files.summary]) rmSync(f, { force: true });
  };
  check(
    spec.train.batchSize >= processes,
    'processes',
    `at most the batch size (${spec.train.batchSize})`,
    processes,
  );
  const started = performance.now();
  const env = { ...process.env, OMP_NUM_THREADS: String(threads) };
  const entry = new URL('./worker.js', import.meta.url);
  const ranks: Rank[] = [];
  let failure: string | undefined;
  let failureCode: number = EXIT_FAILED;
  let stopRequested = false;
  let reduces = 0;
  let resumedFrom = 0;
  let metricsReady = false;
  const pendingRecords: object[] = [];
  const log = (record: object) => {
    if (!metricsReady) pendingRecords.push(record);
    else appendFileSync(files.metrics, `${JSON.stringify(record)}\n`);
  };
  const onSignal = () => {
    stopRequested = true;
  };
  if (options.handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }

  let settle!: () => void;
  const finished = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const fail = (why: string, exitCode: number = EXIT_FAILED) => {
    if (failure !== undefined) return;
    failure = why;
    failureCode = exitCode;
    for (const r of ranks)
      if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL');
    settle();
  };

  // Answers a collective once every rank has sent its next frame.
  const pump = () => {
    while (failure === undefined) {
      if (!ranks.every((r) => r.reader.hasFrame())) return;
      const got = ranks.map((r) => r.reader.next()!);
      const ops = new Set(got.map((f) => f.op));
      if (ops.size !== 1) return fail(`Workers disagree on the collective (ops ${[...ops].join(', ')}).`);
      const op = got[0]!.op;
      let answer: Float32Array;
      if (op === OP_GATHER) {
        answer = new Float32Array(got.reduce((n, f) => n + f.data.length, 0));
        let at = 0;
        for (const f of got) {
          answer.set(f.data, at);
          at += f.data.length;
        }
      } else if (op === OP_SUM) {
        const n = got[0]!.data.length;
        if (got.some((f) => f.data.length !== n))
          return fail(
            `Workers sent all-reduce buffers of different lengths (${got.map((f) => f.data.length)}).`,
          );
        answer = Float32Array.from(got[0]!.data);
        for (const f of got.slice(1)) for (let i = 0; i < n; i++) answer[i]! += f.data[i]!;
        hooks.onAllReduce?.(resumedFrom + reduces, answer);
        reduces++;
        if (hooks.stop?.()) stopRequested = true;
      } else return fail(`Unknown collective op ${op}.`);
      const flag = op === OP_SUM && stopRequested ? FLAG_STOP : 0;
      for (const r of ranks) for (const b of frame(op | flag, answer)) r.wire.write(b);
    }
  };

  for (let rank = 0; rank < processes; rank++) {
    const child = fork(entry, [], {
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe'],
      serialization: 'advanced',
    });
    const wire = child.stdio[4] as unknown as Writable & Readable;
    const r: Rank = {
      rank,
      child,
      wire,
      reader: new FrameReader(),
      exited: new Promise((resolve) => child.once('close', () => resolve())),
    };
    ranks.push(r);
    wire.on('data', (chunk: Buffer) => {
      r.reader.push(chunk);
      pump();
    });
    wire.on('error', () => undefined); // a dead worker's EPIPE; its exit reports the failure
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'ready') {
        r.ready = m.iteration;
        r.backend = m.backend;
        r.precision = m.precision;
        if (rank === 0) {
          resumedFrom = m.iteration;
          truncateMetrics(files.metrics, resumedFrom);
          metricsReady = true;
          for (const p of pendingRecords.splice(0)) log(p);
          const { backend, stepsPerEpoch, totalIterations } = m;
          hooks.onReady?.({ backend, resumedFrom, stepsPerEpoch, totalIterations });
        }
      } else if (m.type === 'step') {
        log(m.record);
        hooks.onStep?.(m.record);
      } else if (m.type === 'epoch') {
        log(m.record);
        hooks.onEpoch?.(m.record);
      } else if (m.type === 'done') {
        r.done = { iteration: m.iteration, fingerprint: m.fingerprint };
      } else if (m.type === 'error') {
        r.error = { message: m.message, exitCode: m.exitCode };
      }
    });
    child.once('error', (error) => fail(`Worker ${rank} could not start: ${error.message}.`));
    child.once('close', (code, signal) => {
      if (code === 0 && r.done) {
        if (ranks.every((x) => x.done && x.child.exitCode !== null)) settle();
        return;
      }
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const reason = r.error ? `: ${r.error.message.replace(/\.$/, '')}` : r.done ? '' : ' before finishing';
      fail(
        `Worker ${rank} (pid ${child.pid}) ${how}${reason}; the other workers were stopped.`,
        r.error?.exitCode,
      );
    });
    const init: WorkerInit = {
      type: 'init',
      rank,
      size: processes,
      spec,
      runDir,
      resume,
      backend: options.backend ?? 'auto',
    };
    if (options.dataset) init.dataset = options.dataset;
    child.send(init);
  }
  hooks.onStart?.(ranks.map((r) => ({ rank: r.rank, pid: r.child.pid ?? -1 })));

  try {
    await finished;
    await Promise.all(ranks.map((r) => r.exited)); // reaped: no zombies, whatever happened
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (failure !== undefined) {
    removeIfUnstarted();
    throw new DistributedTrainingError(failure, failureCode);
  }
  const fingerprints = ranks.map((r) => r.done!.fingerprint);
  return {
    runDir,
    processes,
    threadsPerProcess: threads,
    backend: ranks[0]!.backend ?? 'unknown',
    precision: ranks[0]!.precision ?? 'fp32',
    iterations: ranks[0]!.done!.iteration,
    resumedFrom,
    interrupted: stopRequested,
    fingerprints,
    seconds: (performance.now() - started) / 1000,
  };
}
