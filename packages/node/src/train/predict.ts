/**
 * Labels for new images: a run's frozen encoder and its kept linear probe (probe.json, written by
 * `supcon linear`). Nothing of the run's dataset is loaded: the probe records the input shape, the
 * pixel normalisation and the class names.
 */
import type { LinearProbe, Network } from 'supcon';
import { linearScores } from 'supcon';
import type { ImageSet } from '../data/index.js';
import { embedImages } from './embed.js';
import { loadEncoderWeights } from './evaluate.js';
import { checkProbeMatches, loadProbe, type ProbeRecord } from './probe-file.js';
import { readSpec, runFiles } from './session.js';
import { augmentSteps, buildEncoder, type RunSpec } from './spec.js';

export interface RunClassifier {
  spec: RunSpec;
  encoder: Network;
  probe: LinearProbe;
  record: ProbeRecord;
}

/** One image's labels, most probable first. */
export interface Prediction {
  label: string;
  /** Class index (in the run's class list). */
  index: number;
  /** Softmax of the probe's scores, 0..1. */
  probability: number;
  /** The `top` most probable classes, the first being `label`. */
  top: { label: string; index: number; probability: number }[];
}

/**
 * The encoder (checkpoint weights) and the kept probe of `runDir`; a ProbeError when the run has
 * no probe or its probe was fitted on other weights than the checkpoint holds now.
 *
 * @example
 *   const model = loadRunClassifier('runs/x');
 *   const { set } = await readImages(['new/'], model.record.input.shape);
 *   predictImages(model, set, 3)[0]?.label;
 */
export function loadRunClassifier(runDir: string): RunClassifier {
  const spec = readSpec(runDir);
  const { record, probe } = loadProbe(runDir);
  const encoder = buildEncoder(spec.model, record.input.shape, spec.train.seed);
  checkProbeMatches(runDir, record, loadEncoderWeights(encoder, runFiles(runDir).checkpoint));
  return { spec, encoder, probe, record };
}

/** Top-`top` labels of each image of `set` (already at the probe's input shape). */
export function predictImages(model: RunClassifier, set: ImageSet, top = 1): Prediction[] {
  const { record, probe, encoder } = model;
  const [height, width] = record.input.shape;
  const steps = augmentSteps('none', [height, width], record.input.mean, record.input.std).eval;
  const features = embedImages(encoder, set, steps);
  const scores = linearScores(probe, features.features); // [n, C]
  const classes = record.classes;
  const k = Math.min(top, classes.length);
  return Array.from({ length: set.count }, (_, i) => {
    const p = softmax(scores.subarray(i * classes.length, (i + 1) * classes.length));
    const order = Array.from(p.keys()).sort((a, b) => p[b]! - p[a]! || a - b);
    const best = order
      .slice(0, k)
      .map((index) => ({ label: classes[index]!, index, probability: p[index]! }));
    return { label: best[0]!.label, index: best[0]!.index, probability: best[0]!.probability, top: best };
  });
}

function softmax(logits: Float32Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const v of logits) max = Math.max(max, v);
  const out = Float64Array.from(logits, (v) => Math.exp(v - max));
  const sum = out.reduce((s, v) => s + v, 0);
  return out.map((v) => v / sum);
}
