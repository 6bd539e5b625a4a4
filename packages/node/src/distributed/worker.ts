/**
 * One rank of `trainDistributed`, a child process forked by the coordinator. It builds the same data,
 * networks and augmentation as `trainRun`, then steps a `DataParallelTrainer` whose collectives block
 * on fd 4 (pipe.ts). Rank 0 reports step and epoch records over IPC and writes the checkpoint.
 */
import { createHash } from 'node:crypto';
import { DataParallelTrainer, type EpochRecord, EXIT_FAILED, type StepRecord, UserError } from 'supcon';
import { applyEnginePrecision, type BackendChoice, selectBackend } from '../backend.js';
import type { Dataset } from '../data/index.js';
import { loadCheckpoint, saveCheckpoint } from '../train/checkpoint.js';
import { knnMonitor, trainAugmenter } from '../train/run-common.js';
import { buildNetworks, prepareData, runFiles } from '../train/session.js';
import type { RunSpec } from '../train/spec.js';
import { PipeCollectives } from './pipe.js';

export interface WorkerInit {
  type: 'init';
  rank: number;
  size: number;
  spec: RunSpec;
  runDir: string;
  resume: boolean;
  backend: BackendChoice;
  dataset?: Dataset;
}

export type WorkerMessage =
  | {
      type: 'ready';
      rank: number;
      backend: string;
      /** The compute precision in effect on this rank (the spec's unless the engine cannot run it). */
      precision: 'fp32' | 'bf16';
      iteration: number;
      stepsPerEpoch: number;
      totalIterations: number;
    }
  | { type: 'step'; record: StepRecord }
  | { type: 'epoch'; record: EpochRecord & { knnAccuracy?: number } }
  | { type: 'done'; rank: number; iteration: number; fingerprint: string }
  /** `exitCode`: the error's own when it is a UserError (2 for a bad argument), else 1. */
  | { type: 'error'; rank: number; message: string; exitCode: number };

function send(message: WorkerMessage): Promise<void> {
  return new Promise((resolve, reject) => {
    process.send!(message, undefined, {}, (error) => (error ? reject(error) : resolve()));
  });
}

/** SHA-256 of every variable's bytes, in checkpoint order: equal fingerprints mean bit-identical models. */
function fingerprint(trainer: DataParallelTrainer): string {
  const hash = createHash('sha256');
  for (const [name, v] of Object.entries(trainer.state().variables))
    hash.update(name).update(new Uint8Array(v.values.buffer, v.values.byteOffset, v.values.byteLength));
  return hash.digest('hex');
}

async function run(init: WorkerInit): Promise<void> {
  const { rank, size, spec, runDir } = init;
  const backend = await selectBackend(init.backend);
  // Every rank runs the same precision; rank 0 alone says so when bf16 falls back to fp32.
  const warn = (line: string) => {
    if (rank === 0) process.stderr.write(`${line}\n`);
  };
  const precision = await applyEnginePrecision(backend, spec.precision ?? 'fp32', { warn });
  const files = runFiles(runDir);
  const data = await prepareData(spec, init.dataset);
  const { encoder, head } = buildNetworks(spec, data);
  const { train } = data;
  const { steps, augmenter } = trainAugmenter(spec, data);
  const o = augmenter.output;
  const collectives = new PipeCollectives(rank, size);
  const trainer = new DataParallelTrainer({
    config: spec.train,
    encoder,
    head,
    data: train,
    makeViews: (images, count, opts) => augmenter.apply(images, count, opts),
    viewShape: [o.height, o.width, o.channels],
    collectives,
  });
  if (init.resume) trainer.restore(loadCheckpoint(files.checkpoint).state);
  const checkpoint = () => {
    if (rank === 0) saveCheckpoint(files.checkpoint, trainer.state(), { spec });
  };
  await send({
    type: 'ready',
    rank,
    backend,
    precision,
    iteration: trainer.position.iteration,
    stepsPerEpoch: trainer.stepsPerEpoch,
    totalIterations: trainer.totalIterations,
  });
  let epochStart = performance.now();
  while (!trainer.position.done) {
    const { epochDone, ...record } = trainer.step();
    if (rank === 0) {
      await send({ type: 'step', record });
      const { iteration, step } = trainer.position;
      if (iteration % spec.checkpointEvery === 0 && step !== 0) checkpoint();
      if (epochDone) {
        const e: EpochRecord & { knnAccuracy?: number } = {
          type: 'epoch',
          epoch: record.epoch,
          iteration,
          loss: epochDone.loss,
          seconds: (performance.now() - epochStart) / 1000,
        };
        if (spec.knnK > 0) e.knnAccuracy = knnMonitor(trainer.encoder, data, steps.eval, spec.knnK);
        checkpoint();
        await send({ type: 'epoch', record: e });
      }
    }
    if (epochDone) epochStart = performance.now();
    if (collectives.stopRequested) break;
  }
  checkpoint();
  await send({
    type: 'done',
    rank,
    iteration: trainer.position.iteration,
    fingerprint: fingerprint(trainer),
  });
}

// Ctrl-C reaches the whole process group: the coordinator alone decides, so every rank stops at the
// same step (it answers the next all-reduce with the stop flag).
process.on('SIGINT', () => undefined);
// A lost coordinator ends the worker: a closed IPC channel here, EOF on fd 4 inside a step.
process.on('disconnect', () => process.exit(70));
process.once('message', (init: WorkerInit) => {
  run(init).then(
    () => process.exit(0),
    async (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      const exitCode = error instanceof UserError ? error.exitCode : EXIT_FAILED;
      await send({ type: 'error', rank: init.rank, message, exitCode }).catch(() => undefined);
      process.exit(1);
    },
  );
});
