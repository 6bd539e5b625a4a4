/**
 * The run folder's format, in one place: the names of its files and the records of its metrics log.
 * Everything that writes a run (the run loop) or reads one (reports, sweeps, the dashboard, the
 * study) takes the names from `runFiles` instead of spelling them out.
 *
 *   config.json      the RunSpec that trains (spec.ts), written when the run starts or is extended
 *   metrics.jsonl    one JSON record a line: a `step` record per step, an `epoch` record per epoch
 *   checkpoint.bin   weights, optimiser and position (checkpoint.ts), replaced atomically
 *   summary.json     what started the run, then the evaluations' results (merged, fields kept)
 *   probe.json       the kept linear probe (probe-file.ts), by `supcon linear` and `supcon demo`
 *   robustness.json  accuracy and calibration under corruptions (robustness.ts)
 *   encoder/         the trained encoder as a TensorFlow.js layers model (model.json + weights.bin)
 *
 * @example
 *   const last = lastEpochRecord(runFiles('runs/a').metrics); // { type: 'epoch', loss, knnAccuracy?, … }
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EpochRecord, StepRecord } from 'supcon';
import { writeFileDurable } from './checkpoint.js';

/** The file (and folder) names of a run folder. */
export const RUN_FILE_NAMES = {
  config: 'config.json',
  metrics: 'metrics.jsonl',
  checkpoint: 'checkpoint.bin',
  summary: 'summary.json',
  probe: 'probe.json',
  robustness: 'robustness.json',
  encoder: 'encoder',
} as const;

/** The model file inside the exported encoder folder (what `tf.loadLayersModel` opens). */
const ENCODER_MODEL = 'model.json';

export type RunFiles = { [K in keyof typeof RUN_FILE_NAMES]: string } & {
  /** `encoder/model.json`: present once a finished run exported its encoder. */
  encoderModel: string;
};

/** The paths of `runDir`'s files (see the top of this file for what each holds). */
export function runFiles(runDir: string): RunFiles {
  const files = Object.fromEntries(
    Object.entries(RUN_FILE_NAMES).map(([key, name]) => [key, join(runDir, name)]),
  ) as { [K in keyof typeof RUN_FILE_NAMES]: string };
  return { ...files, encoderModel: join(files.encoder, ENCODER_MODEL) };
}

/** The run's summary.json as an object ({} when there is none yet). */
export function readSummary(runDir: string): Record<string, unknown> {
  const file = runFiles(runDir).summary;
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
}

/** Whether `dir` looks like a run folder: it holds config.json or metrics.jsonl. */
export function isRunFolder(dir: string): boolean {
  const files = runFiles(dir);
  return existsSync(files.config) || existsSync(files.metrics);
}

/** A `step` line of metrics.jsonl: the trainer's StepRecord as is. */
export type MetricsStepRecord = StepRecord;
/** An `epoch` line of metrics.jsonl: the trainer's EpochRecord and the kNN monitor's top-1 (knnK > 0). */
export type MetricsEpochRecord = EpochRecord & { knnAccuracy?: number };
export type MetricsRecord = MetricsStepRecord | MetricsEpochRecord;

/** Appends one record as one line of the metrics log. */
export function appendMetrics(file: string, record: MetricsRecord): void {
  appendFileSync(file, `${JSON.stringify(record)}\n`);
}

/** The records of a metrics log's text, skipping blank lines and a killed process's torn last line. */
export function parseMetrics(text: string): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as MetricsRecord);
    } catch {
      // a torn or foreign line
    }
  }
  return out;
}

/** The records of a metrics log (none when the file does not exist). */
export function readMetrics(file: string): MetricsRecord[] {
  return existsSync(file) ? parseMetrics(readFileSync(file, 'utf8')) : [];
}

/** Drops records a killed process logged after its last checkpoint (at `iteration`), and any torn last line. */
export function truncateMetrics(file: string, iteration: number): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => {
      try {
        const r = JSON.parse(line) as { type: string; iteration: number };
        return r.type === 'step' ? r.iteration < iteration : r.iteration <= iteration;
      } catch {
        return false;
      }
    });
  writeFileDurable(file, kept.length ? `${kept.join('\n')}\n` : '');
}

/** The last epoch record of a metrics log (undefined before the first epoch ends). */
export function lastEpochRecord(file: string): MetricsEpochRecord | undefined {
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const r = JSON.parse(lines[i]!) as MetricsRecord;
      if (r.type === 'epoch') return r;
    } catch {
      // a torn last line of a killed process
    }
  }
  return undefined;
}
