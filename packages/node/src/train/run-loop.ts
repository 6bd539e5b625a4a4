/**
 * The one run loop of a training run on disk, shared by the one-process run (`trainRun`, session.ts)
 * and every rank of a data-parallel run (`trainRank`, distributed/rank.ts). It drives the core's
 * `TrainerBase.steps()`; what differs between the two is a small adapter:
 *
 *   writes  whether this process writes the run folder: the single process, and rank 0 of a group
 *           (the other ranks only step, in lockstep with it);
 *   stop    asked after each step: a signal or a test's hook in one process; over MPI the stop flag
 *           the step's all-reduce carried, the same on every rank, so every rank stops after the
 *           same step.
 *
 * The writer appends each step record to metrics.jsonl, checkpoints every `spec.checkpointEvery`
 * iterations (and at every epoch end), runs the kNN monitor at the epoch end (`spec.knnK > 0`) and
 * appends the epoch record with its accuracy, checkpoints once more when the loop ends, and exports
 * the encoder when the run is done. The kNN monitor only reads the encoder (inference mode), so the
 * ranks that skip it stay bit-identical to the writer.
 */

import { existsSync } from 'node:fs';
import type { AugmentStep, StepRecord, TrainerBase } from 'supcon';
import { saveCheckpoint, writeFileDurable } from './checkpoint.js';
import { exportLayersModel } from './export.js';
import { ensureOutputFolder } from './output.js';
import { knnMonitor, recordInvocation } from './run-common.js';
import {
  appendMetrics,
  type MetricsEpochRecord,
  type MetricsStepRecord,
  readSummary,
  runFiles,
  truncateMetrics,
} from './run-folder.js';
import type { PreparedData } from './session.js';
import type { RunSpec } from './spec.js';

export interface RunLoopOptions {
  trainer: TrainerBase;
  /** The spec that trains (saved with every checkpoint). */
  spec: RunSpec;
  runDir: string;
  data: PreparedData;
  /** The evaluation augmentation, for the kNN monitor. */
  evalSteps: AugmentStep[];
  /** This process writes the run folder (the single process; rank 0 of a group); the others only step. */
  writes: boolean;
  /** Asked after each step (after its records and hooks): true ends the run there. Every rank must answer alike. */
  stop: () => boolean;
  /** Stop before the step that would pass this many iterations (asked before the first step too). */
  stopAfterIterations?: number;
  /** Let the event loop turn between steps, so that signal handlers run. */
  yieldBetweenSteps?: boolean;
  /** Every process, before the first step and between steps (a rank notices a dead launcher here). */
  beforeStep?: () => void;
  /** The writer's step records, after logging. */
  onStep?: (r: MetricsStepRecord) => void;
  /** The writer's epoch records (with the kNN monitor's accuracy), after logging and checkpointing. */
  onEpoch?: (r: MetricsEpochRecord) => void;
  /** Every process, after each step and its records. */
  afterStep?: (r: StepRecord) => void;
  /** Seconds the run had trained before this process (its checkpoint's `trainSeconds`); 0 for a fresh run. */
  secondsBefore?: number;
  /** performance.now() when this process began the run (default: when the loop starts). */
  startedAt?: number;
}

export interface RunLoopResult {
  /** The trainer had trained all its iterations before the loop: nothing was trained. */
  alreadyFinished: boolean;
  /** The loop ended before the last iteration (`stop` or `stopAfterIterations`). */
  stopped: boolean;
  /**
   * Seconds of training the run has had up to now, every process's part summed: `secondsBefore`
   * plus this process's time. Each checkpoint records the same sum up to itself (meta
   * `trainSeconds`), so a resume after a kill counts what the killed process trained up to its
   * last checkpoint (the steps after it are trained again, and counted again, by the resume).
   */
  trainSeconds: number;
}

/** Trains `trainer` to its end or until stopped, writing the run folder if `writes` (see the top of this file). */
export async function runLoop(o: RunLoopOptions): Promise<RunLoopResult> {
  const { trainer: t, spec, writes } = o;
  const files = runFiles(o.runDir);
  const startedAt = o.startedAt ?? performance.now();
  const trainSeconds = () => (o.secondsBefore ?? 0) + (performance.now() - startedAt) / 1000;
  const checkpoint = () => {
    if (writes) saveCheckpoint(files.checkpoint, t.state(), { spec, trainSeconds: trainSeconds() });
  };
  const limit = o.stopAfterIterations;
  const limitReached = () => limit !== undefined && t.position.iteration >= limit;
  const alreadyFinished = t.position.done;
  let stopped = !alreadyFinished && limitReached();
  if (!stopped) {
    o.beforeStep?.();
    const loop = t.steps({
      afterStep: (r) => {
        if (!writes) return;
        appendMetrics(files.metrics, r);
        o.onStep?.(r);
        const { iteration, step } = t.position;
        if (iteration % spec.checkpointEvery === 0 && step !== 0) checkpoint();
      },
      afterEpoch: (r) => {
        if (!writes) return;
        const record: MetricsEpochRecord = { ...r };
        if (spec.knnK > 0) record.knnAccuracy = knnMonitor(t.encoder, o.data, o.evalSteps, spec.knnK);
        appendMetrics(files.metrics, record);
        checkpoint();
        o.onEpoch?.(record);
      },
      stop: () => {
        const asked = o.stop() || limitReached();
        stopped = asked && !t.position.done;
        return asked;
      },
    });
    for (const r of loop) {
      o.afterStep?.(r);
      // Signals are delivered by the event loop: let it turn between steps when we listen for them.
      if (o.yieldBetweenSteps) await new Promise<void>((resolve) => setImmediate(resolve));
      o.beforeStep?.();
    }
  }
  if (!alreadyFinished) checkpoint();
  const seconds = trainSeconds();
  // A finished run also leaves its encoder in the TensorFlow.js layers format (tf.loadLayersModel);
  // a finished run resumed again writes it only if it is missing (a kill during the export).
  if (writes && t.position.done && (!alreadyFinished || !existsSync(files.encoderModel)))
    await exportLayersModel(files.encoder, { spec, encoder: t.encoder, data: o.data });
  return { alreadyFinished, stopped, trainSeconds: seconds };
}

/**
 * The seconds a run had trained before this process resumed it at iteration `resumedFrom`: what its
 * checkpoint recorded (`meta.trainSeconds`, every earlier process's part up to that checkpoint),
 * else, for a checkpoint written before it recorded them, the time summary.json holds when that
 * summary describes exactly the training before this resume; 0 when neither is known.
 */
export function secondsBeforeResume(
  runDir: string,
  resumedFrom: number,
  checkpointMeta: Record<string, unknown> | undefined,
): number {
  if (resumedFrom === 0) return 0;
  const recorded = checkpointMeta?.['trainSeconds'];
  if (typeof recorded === 'number' && Number.isFinite(recorded) && recorded >= 0) return recorded;
  const old = readSummary(runDir);
  const before = old['trainSeconds'];
  return old['iterations'] === resumedFrom && typeof before === 'number' ? before : 0;
}

/**
 * The writer's set-up of the run folder before the loop: the folder made (or checked), config.json
 * written when `writeSpec` (a fresh start, or an extension), the invocation recorded in summary.json,
 * and the metrics a killed process logged after its checkpoint at `resumedFrom` dropped.
 */
export function openRunFolder(
  runDir: string,
  o: { spec: RunSpec; writeSpec: boolean; commandLine: string[]; resumedFrom?: number },
): void {
  const files = runFiles(runDir);
  ensureOutputFolder('out', runDir);
  if (o.writeSpec) writeFileDurable(files.config, `${JSON.stringify(o.spec, null, 2)}\n`);
  recordInvocation(files.summary, o.commandLine, o.resumedFrom);
  truncateMetrics(files.metrics, o.resumedFrom ?? 0);
}
