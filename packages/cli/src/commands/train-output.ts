/**
 * What `train`, `demo` and `train-distributed` print while and after training: the progress line,
 * the line per epoch, the prefetch line, the messages of an interrupted or finished run, and the
 * final metrics of `--json`.
 */
import { type KnnResult, knnMonitorSettings, type PrefetchSummary, type RunResult } from '@supcon/node';
import type { EpochRecord, StepRecord, Trainer } from 'supcon';

/** The prefetch line of a run's text summary. */
export function prefetchLine(p: PrefetchSummary): string {
  if (!p.enabled) return 'views augmented on the training thread (--no-prefetch)';
  const line = `views: ${p.prefetched} batches prepared ahead by the worker, ${p.inline} inline, ${p.waitMs.toFixed(0)} ms waited for the worker`;
  return p.workerError ? `${line} (the worker failed: ${p.workerError})` : line;
}

/** What the CLI prints when a run was stopped by a signal; the exit code is 130. */
export function interruptedMessage(
  out: string,
  iteration: number,
  command: 'train' | 'demo' | 'train-distributed' = 'train',
): string {
  return `Interrupted after step ${iteration}; the checkpoint is written. Continue with: supcon ${command} --out ${out} --resume`;
}

/** What `train`/`demo` print for `--resume` of a run that has trained all its epochs. */
export function finishedMessage(
  out: string,
  epochs: number,
  iterations: number,
  command: 'train' | 'demo',
): string {
  return (
    `Run ${out} is already finished (${epochs} epoch${epochs === 1 ? '' : 's'}, ${iterations} steps); nothing was trained. ` +
    `To train it longer: supcon ${command} --out ${out} --resume --epochs ${epochs + 1} (or more; the schedule is recomputed over the new total).`
  );
}

/** A progress line on stderr: epoch, step, loss, learning rate, images per second, time left. */
export function progressPrinter(quiet: boolean): (r: StepRecord, trainer: Trainer) => void {
  const tty = process.stderr.isTTY === true;
  let smoothed = 0;
  return (r, trainer) => {
    if (quiet) return;
    smoothed = smoothed === 0 ? r.imagesPerSecond : 0.9 * smoothed + 0.1 * r.imagesPerSecond;
    const left = trainer.totalIterations - (r.iteration + 1);
    const eta = (left * trainer.config.batchSize) / Math.max(smoothed, 1e-9);
    const width = 20;
    const done = Math.round((width * (r.iteration + 1)) / trainer.totalIterations);
    const bar = `[${'#'.repeat(done)}${'.'.repeat(width - done)}]`;
    const line =
      `${bar} epoch ${r.epoch + 1}/${trainer.config.epochs} step ${r.step + 1}/${trainer.stepsPerEpoch}` +
      ` loss ${r.loss.toFixed(4)} lr ${r.lr.toPrecision(3)} ${smoothed.toFixed(0)} img/s left ${formatTime(eta)}`;
    if (tty) process.stderr.write(`\r${line}\x1b[K`);
    else if ((r.iteration + 1) % 20 === 0 || left === 0) process.stderr.write(`${line}\n`);
    if (tty && left === 0) process.stderr.write('\n');
  };
}

/**
 * The line `train` and `demo` print after each epoch: `epoch 2/10: loss 4.1234, kNN validation top-1
 * 81.20%, train accuracy 85.10% (31 s)` (kNN with the monitor on, train accuracy for ce).
 */
export function epochLine(r: EpochRecord & { knnAccuracy?: number }, epochs: number): string {
  const parts = [`loss ${r.loss.toFixed(4)}`];
  if (r.knnAccuracy !== undefined) parts.push(`kNN validation top-1 ${(100 * r.knnAccuracy).toFixed(2)}%`);
  if (r.accuracy !== undefined) parts.push(`train accuracy ${(100 * r.accuracy).toFixed(2)}%`);
  if (r.probeAccuracy !== undefined)
    parts.push(`joint probe train top-1 ${(100 * r.probeAccuracy).toFixed(2)}%`);
  return `epoch ${r.epoch + 1}/${epochs}: ${parts.join(', ')} (${r.seconds.toFixed(0)} s)`;
}

/**
 * The warning for a convolutional encoder on the pure-JavaScript `cpu` backend (asked for, or what
 * `auto` fell back to), whose convolutions are tens of times slower than the native engine's; empty
 * when it does not apply.
 */
export function cpuBackendWarning(backend: string, encoder: string): string {
  if (backend !== 'cpu' || encoder === 'mlp') return '';
  return (
    `supcon: warning: the \`cpu\` backend runs the convolutions of ${encoder} in plain JavaScript: a training ` +
    'step takes minutes. For a quick try pass `--encoder mlp`; for real runs use the native engine (`--backend native`).'
  );
}

/**
 * The end of a run for `--json`: `epochs` (planned), `epochsDone`, and from the last finished epoch
 * its mean `loss`, the kNN monitor's validation top-1 with its settings (`knn`, when on) and, for
 * ce, `trainAccuracy` (mean training top-1 of that epoch's steps).
 */
export function finalMetrics(result: RunResult): {
  epochs: number;
  epochsDone: number;
  loss?: number;
  knn?: { k: number; bank: number; temperature: number; validation: { top1: number; images: number } };
  trainAccuracy?: number;
} {
  const { trainer, lastEpoch, spec, data } = result;
  const out: ReturnType<typeof finalMetrics> = {
    epochs: trainer.config.epochs,
    epochsDone: Math.floor(trainer.position.iteration / trainer.stepsPerEpoch),
  };
  if (!lastEpoch) return out;
  out.loss = lastEpoch.loss;
  if (lastEpoch.knnAccuracy !== undefined) {
    const { images, ...settings } = knnMonitorSettings(data, spec.knnK);
    out.knn = { ...settings, validation: { top1: lastEpoch.knnAccuracy, images } };
  }
  if (lastEpoch.accuracy !== undefined) out.trainAccuracy = lastEpoch.accuracy;
  return out;
}

/** A kNN result's test top-1 with its settings, e.g. `71.36% (k 200, bank 10000)`. */
export function knnText(knn: KnnResult, split: 'test' | 'validation' = 'test'): string {
  const r = knn[split];
  const lowered = knn.requestedK !== undefined ? `, lowered from ${knn.requestedK}` : '';
  return r ? `${(100 * r.top1).toFixed(2)}% (k ${knn.k}${lowered}, bank ${knn.bank})` : 'not measured';
}

export function formatTime(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
