/**
 * The kept linear probe of a run: `supcon linear` writes `probe.json` into the run folder (atomically)
 * and `supcon predict` reads it back to label new images. The file holds everything a prediction
 * needs besides the encoder's weights: the input shape and pixel normalisation, the class names, the
 * feature standardisation and the classifier itself, plus the settings and accuracies that produced
 * it and the fingerprint of the checkpoint whose encoder it was fitted on (a probe of an encoder that
 * has since trained further is refused rather than silently applied to other features).
 *
 * Float32 values are written as JSON numbers, which read back to the same float32 bits.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { type LinearProbe, UserError } from 'supcon';
import { writeFileDurable } from './checkpoint.js';
import { runFiles } from './session.js';

export const PROBE_FORMAT = 'supcon-linear-probe';

/** The probe's file in a run folder. */
export function probeFile(runDir: string): string {
  return runFiles(runDir).probe;
}

/** Which encoder weights a probe belongs to. */
export interface CheckpointFingerprint {
  /** Training iteration the checkpoint was written at. */
  iteration: number;
  /** SHA-256 of the whole checkpoint file. */
  sha256: string;
}

export interface ProbeRecord {
  format: typeof PROBE_FORMAT;
  version: 1;
  createdAt: string;
  encoder: CheckpointFingerprint;
  /** What the encoder takes: one image [height, width, channels], model input = (pixel / 255 − mean[c]) / std[c]. */
  input: { shape: [number, number, number]; mean: number[]; std: number[] };
  classes: string[];
  featureDim: number;
  /** Standardisation of the encoder features before the classifier (from the training split). */
  featureNormalisation: { mean: number[]; std: number[] };
  /** [featureDim, classes] row-major. */
  weights: number[];
  bias: number[];
  settings: {
    epochs: number;
    batchSize: number;
    lr: number;
    optimizer: 'adam';
    schedule: 'cosine';
    seed: number;
    /** The weight decay kept, and the candidates it was chosen among on validation. */
    weightDecay: number;
    weightDecayCandidates: number[];
    trainImages: number;
    validationImages: number;
  };
  /**
   * Top-1 fractions (and test top-5); the test split was looked at once, after every choice. No
   * `test` or `testTop5` for a dataset without a test split (a flat `folder:` dataset).
   */
  accuracy: { train: number; validation: number; test?: number; testTop5?: number };
}

/** A missing, damaged or stale probe: one sentence saying what to run. */
export class ProbeError extends UserError {}

/** SHA-256 and iteration of a checkpoint file (iteration read by the caller from its header). */
export function fingerprintFile(file: string, iteration: number): CheckpointFingerprint {
  return { iteration, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
}

/** The record of a fitted probe, ready for `saveProbe`. */
export function probeRecord(
  probe: LinearProbe,
  fields: Omit<
    ProbeRecord,
    'format' | 'version' | 'createdAt' | 'featureDim' | 'featureNormalisation' | 'weights' | 'bias'
  >,
): ProbeRecord {
  return {
    format: PROBE_FORMAT,
    version: 1,
    createdAt: new Date().toISOString(),
    ...fields,
    featureDim: probe.dim,
    featureNormalisation: { mean: Array.from(probe.mean), std: Array.from(probe.std) },
    weights: Array.from(probe.weights),
    bias: Array.from(probe.bias),
  };
}

/** Writes `runDir/probe.json` atomically (temp file, fsync, rename). */
export function saveProbe(runDir: string, record: ProbeRecord): string {
  const file = probeFile(runDir);
  writeFileDurable(file, `${JSON.stringify(record)}\n`);
  return file;
}

/**
 * Reads and checks `runDir/probe.json`; a ProbeError saying to run `supcon linear --run runDir` when
 * it is missing or damaged.
 *
 * @example
 *   const { record, probe } = loadProbe('runs/x');
 *   linearScores(probe, features); // [n, classes]
 */
export function loadProbe(runDir: string): { record: ProbeRecord; probe: LinearProbe } {
  const file = probeFile(runDir);
  const fix = `run \`supcon linear --run ${runDir}\` to fit and keep it`;
  if (!existsSync(file))
    throw new ProbeError(`Run \`${runDir}\` has no linear probe (no probe.json): ${fix} first.`);
  let r: ProbeRecord;
  try {
    r = JSON.parse(readFileSync(file, 'utf8')) as ProbeRecord;
  } catch (error) {
    throw new ProbeError(
      `The probe \`${file}\` is not valid JSON (${(error as Error).message}): ${fix} again.`,
    );
  }
  const problem = shapeProblem(r);
  if (problem) throw new ProbeError(`The probe \`${file}\` is damaged (${problem}): ${fix} again.`);
  const probe: LinearProbe = {
    dim: r.featureDim,
    classes: r.classes.length,
    mean: Float32Array.from(r.featureNormalisation.mean),
    std: Float32Array.from(r.featureNormalisation.std),
    weights: Float32Array.from(r.weights),
    bias: Float32Array.from(r.bias),
    weightDecay: r.settings.weightDecay,
    trainAccuracy: r.accuracy?.train ?? Number.NaN,
    validationAccuracy: r.accuracy?.validation ?? Number.NaN,
  };
  return { record: r, probe };
}

/** Refuses a probe fitted on other encoder weights than the run's checkpoint now holds. */
export function checkProbeMatches(runDir: string, record: ProbeRecord, now: CheckpointFingerprint): void {
  if (record.encoder.sha256 === now.sha256) return;
  throw new ProbeError(
    `The probe of \`${runDir}\` was fitted on the encoder at step ${record.encoder.iteration}, but the checkpoint now holds step ${now.iteration} (other weights): run \`supcon linear --run ${runDir}\` again.`,
  );
}

function shapeProblem(r: ProbeRecord): string | undefined {
  if (typeof r !== 'object' || r === null) return 'not an object';
  if (r.format !== PROBE_FORMAT || r.version !== 1)
    return `format ${JSON.stringify(r.format)} version ${JSON.stringify(r.version)}, expected ${PROBE_FORMAT} version 1`;
  const numbers = (v: unknown, n: number) =>
    Array.isArray(v) && v.length === n && v.every((x) => typeof x === 'number' && Number.isFinite(x));
  const shape = r.input?.shape;
  if (!numbers(shape, 3) || !shape.every((s) => Number.isInteger(s) && s > 0))
    return 'input.shape is not [height, width, channels]';
  const c = shape[2];
  if (!numbers(r.input.mean, c) || !numbers(r.input.std, c)) return `input.mean/std need ${c} values`;
  if (!Array.isArray(r.classes) || r.classes.length < 2 || !r.classes.every((x) => typeof x === 'string'))
    return 'classes is not a list of at least 2 names';
  const d = r.featureDim;
  if (!Number.isInteger(d) || d < 1) return 'featureDim is not a positive integer';
  const f = r.featureNormalisation;
  if (!numbers(f?.mean, d) || !numbers(f?.std, d)) return `featureNormalisation needs ${d} values each`;
  if (!numbers(r.weights, d * r.classes.length)) return `weights need ${d}×${r.classes.length} values`;
  if (!numbers(r.bias, r.classes.length)) return `bias needs ${r.classes.length} values`;
  if (typeof r.encoder?.sha256 !== 'string') return 'encoder.sha256 is missing';
  if (typeof r.settings?.weightDecay !== 'number') return 'settings.weightDecay is missing';
  return undefined;
}
