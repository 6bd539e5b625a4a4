/**
 * `trainDistributed`: data-parallel training in N MPI ranks on this machine, from a Node program. It
 * starts `mpirun` (the flags of @supcon/mpi's `localMpirun`: loopback TCP, no binding, OMP_NUM_THREADS
 * per rank) on rank-main.js, whose ranks run `trainRank` and write the same run folder as `trainRun`
 * (config.json, metrics.jsonl, checkpoint.bin from rank 0), so `supcon linear`, `eval`, `embed` and
 * `--resume` work on it. Rank 0 reports its progress back on stdout (events.ts).
 *
 * On a cluster, start the ranks with the launcher instead (`mpirun -np N … npx supcon train …`,
 * `srun --mpi=pmix …`): see docs/distributed.md.
 *
 * @example
 *   const result = await trainDistributed(presetSpec('fashion-quick'), 'runs/dp', { processes: 2 });
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serialize } from 'node:v8';
import { killedRankMessage, localMpirun, mpiLoadError, startMpirun } from '@supcon/mpi';
import { check, EXIT_FAILED, UserError } from 'supcon';
import type { BackendChoice } from '../backend.js';
import type { Dataset } from '../data/index.js';
import { processCommandLine } from '../train/run-common.js';
import type { RunSpec } from '../train/spec.js';
import { DistributedTrainingError } from './agreement.js';
import { EVENT_PREFIX, type RankEvent } from './events.js';
import { type DistributedResult, LAUNCHER_PID_VARIABLE, type RankHooks, type RankJob } from './rank.js';

export interface DistributedOptions {
  /** MPI ranks (each holds a full model and 1/processes of every batch). */
  processes: number;
  /** Native threads per rank (OMP_NUM_THREADS). Default: max(1, floor(cores / processes)). */
  threadsPerProcess?: number;
  /** Backend of the ranks. Default 'auto' (native when it loads, else cpu). */
  backend?: BackendChoice;
  resume?: boolean;
  /** Use this dataset instead of loading `spec.data.dataset` (copied to every rank). */
  dataset?: Dataset;
  /** Stop cleanly after the current step on SIGINT/SIGTERM (every rank stops at the same step). */
  handleSignals?: boolean;
  /** Stop (checkpoint written) after this many iterations in all, the same step on every rank. */
  stopAfterIterations?: number;
  /** mpirun's `--timeout`: the whole job is killed after this many seconds. Default: none. */
  timeoutSeconds?: number;
}

export interface DistributedHooks extends Pick<RankHooks, 'onReady' | 'onStep' | 'onEpoch'> {
  /** mpirun has started (its pid: SIGUSR1 to it stops every rank after the same step). */
  onStart?: (launcher: { pid: number }) => void;
  /**
   * Asked after each of rank 0's step records; true asks every rank to stop. The request reaches the
   * ranks asynchronously (a signal), so they stop after a later step, the same on every rank; for an
   * exact step use `stopAfterIterations`.
   */
  stop?: () => boolean;
}

const RANK_MAIN = fileURLToPath(new URL('./rank-main.js', import.meta.url));

export async function trainDistributed(
  spec: RunSpec,
  runDir: string,
  options: DistributedOptions,
  hooks: DistributedHooks = {},
): Promise<DistributedResult> {
  const { processes } = options;
  check(Number.isInteger(processes) && processes >= 1, 'processes', 'an integer >= 1', processes);
  if (!options.resume)
    check(
      spec.train.batchSize >= processes,
      'processes',
      `at most the batch size (${spec.train.batchSize})`,
      processes,
    );
  const stopAfter = options.stopAfterIterations;
  if (stopAfter !== undefined)
    check(Number.isInteger(stopAfter) && stopAfter >= 0, 'stopAfterIterations', 'an integer >= 0', stopAfter);
  const missing = mpiLoadError();
  if (missing) throw new UserError(missing);
  const launch = localMpirun({
    processes,
    ...(options.threadsPerProcess === undefined ? {} : { threads: options.threadsPerProcess }),
    ...(options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds }),
    command: [process.execPath, RANK_MAIN],
  });
  const job: RankJob = {
    spec,
    runDir,
    resume: options.resume === true,
    backend: options.backend ?? 'auto',
    commandLine: processCommandLine(),
    ...(options.dataset ? { dataset: options.dataset } : {}),
    ...(stopAfter === undefined ? {} : { stopAfterIterations: stopAfter }),
  };
  const dir = mkdtempSync(join(tmpdir(), 'supcon-job-'));
  const jobFile = join(dir, 'job.bin');
  writeFileSync(jobFile, serialize(job));
  try {
    return await run(launch, jobFile, options, hooks);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function run(
  launch: ReturnType<typeof localMpirun>,
  jobFile: string,
  options: DistributedOptions,
  hooks: DistributedHooks,
): Promise<DistributedResult> {
  return new Promise((resolve, reject) => {
    const job = startMpirun(launch, {
      extraArgs: [jobFile],
      env: { [LAUNCHER_PID_VARIABLE]: String(process.pid) },
      stdio: 'pipe',
      handleSignals: options.handleSignals === true,
    });
    const { child, stop } = job;
    let done: DistributedResult | undefined;
    let agreed: { message: string; exitCode: number } | undefined;
    let stderrTail = '';
    child.once('spawn', () => hooks.onStart?.({ pid: child.pid! }));
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let nl = pending.indexOf('\n');
      while (nl >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        nl = pending.indexOf('\n');
        const at = line.indexOf(EVENT_PREFIX);
        if (at < 0) {
          process.stdout.write(`${line}\n`);
          continue;
        }
        const event = JSON.parse(line.slice(at + EVENT_PREFIX.length)) as RankEvent;
        if (event.type === 'ready') {
          const { type: _, ...info } = event;
          hooks.onReady?.(info);
        } else if (event.type === 'step') {
          hooks.onStep?.(event.record);
          if (hooks.stop?.()) stop();
        } else if (event.type === 'epoch') hooks.onEpoch?.(event.record);
        else if (event.type === 'done') done = event.result;
        else agreed = { message: event.message, exitCode: event.exitCode };
      }
    });
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      process.stderr.write(chunk);
      stderrTail = (stderrTail + chunk).slice(-16_384);
    });
    job.exited.then(({ code, signal }) => {
      if (done && (code === 0 || code === 130)) return resolve(done);
      if (agreed) return reject(new DistributedTrainingError(agreed.message, agreed.exitCode));
      const failed = /^rank \d+: .*$/m.exec(stderrTail)?.[0];
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reject(
        new DistributedTrainingError(
          failed
            ? `${failed.replace(/\.$/, '')} (mpirun ${how}; every rank was stopped).`
            : (killedRankMessage(code, signal) ??
                `mpirun ${how} before the run finished (see its output above).`),
          code !== null && code > 0 && code < 128 ? code : EXIT_FAILED,
        ),
      );
    }, reject);
  });
}
