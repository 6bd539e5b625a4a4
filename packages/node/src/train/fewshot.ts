/**
 * Few-shot classification with frozen encoders, as users run it: accuracy against the shots per
 * class on a dataset's test split (support drawn from the training images, seeded episodes, the
 * core's `fewShotEpisodes`), for one or several encoders, as JSON and as a figure; or a support
 * folder of labelled examples (one subfolder per class) classifying a query folder.
 *
 * @example
 *   const frozen = await openFrozenEncoder({ run: 'runs/supcon' });
 *   const curve = fewShotCurve(frozen, { shots: [1, 5, 10, 20], episodes: 10 });
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  check,
  type FeatureSet,
  type FewShotClassifier,
  type FewShotPoint,
  fewShotEpisodes,
  fewShotPredict,
  UserError,
} from 'supcon';
import { METHOD_COLORS, PALETTE } from 'supcon/plot';
import type { ImageSet } from '../data/index.js';
import type { FrozenEncoder, FrozenEncoderWithData } from './frozen-encoder.js';
import { readImages } from './image-inputs.js';
import { writeOutputFile } from './output.js';
import { linePlot, svgToPng } from './plots.js';

export const FEW_SHOT_DEFAULTS = { shots: [1, 5, 10, 20], episodes: 10, seed: 0, classifier: 'ncm' } as const;

export interface FewShotSettings {
  shots: number[];
  episodes: number;
  seed: number;
  classifier: FewShotClassifier;
  /** knn only: voting neighbours. */
  neighbours?: number;
  /** Test images used as queries (default all). */
  queries?: number;
}

export interface FewShotCurve {
  encoder: string;
  method: string;
  dataset: string;
  queries: number;
  points: FewShotPoint[];
}

const firstRows = (f: FeatureSet, n: number): FeatureSet =>
  n >= f.count
    ? f
    : { features: f.features.subarray(0, n * f.dim), labels: f.labels.subarray(0, n), count: n, dim: f.dim };

/** Accuracy against shots per class for `frozen`: support from its training images, queries its test split. */
export function fewShotCurve(
  frozen: FrozenEncoderWithData,
  settings: FewShotSettings,
  onProgress?: (stage: string, done: number, total: number) => void,
): FewShotCurve {
  const test = frozen.test;
  if (!test)
    throw new UserError(
      `The dataset of ${frozen.name} (${frozen.dataset}) has no test split to use as queries.`,
      2,
    );
  const pool = frozen.embed(frozen.train, { onProgress: (d, t) => onProgress?.('training images', d, t) });
  const all = frozen.embed(test, { onProgress: (d, t) => onProgress?.('test images', d, t) });
  const queries = firstRows(all, settings.queries ?? all.count);
  const points = fewShotEpisodes(pool, queries, {
    classes: frozen.classes.length,
    classifier: settings.classifier,
    ...(settings.neighbours !== undefined ? { neighbours: settings.neighbours } : {}),
    shots: settings.shots,
    episodes: settings.episodes,
    seed: settings.seed,
  });
  return {
    encoder: frozen.name,
    method: frozen.method,
    dataset: frozen.dataset,
    queries: queries.count,
    points,
  };
}

/** A short legend name: a pretrained model's name, or the last two folders of a run's path. */
const shortName = (encoder: string) => encoder.split('/').filter(Boolean).slice(-2).join('/');

/**
 * The figure: mean top-1 against shots per class (a log axis: 1, 5, 10, 20 evenly apart), one line
 * per encoder, coloured by method unless two encoders share one.
 */
export function fewShotPlot(
  curves: FewShotCurve[],
  title = 'Few-shot top-1 against examples per class',
): string {
  const methods = curves.map((c) => c.method);
  const byMethod = new Set(methods).size === methods.length;
  const series = curves.map((c, i) => ({
    name: `${c.method}: ${shortName(c.encoder)}`,
    points: c.points.map((p) => [Math.log2(p.shots), 100 * p.mean] as [number, number]),
    color: (byMethod ? METHOD_COLORS[c.method] : undefined) ?? PALETTE[i % PALETTE.length]!,
  }));
  const shots = [...new Set(curves.flatMap((c) => c.points.map((p) => p.shots)))].sort((a, b) => a - b);
  return linePlot(
    title,
    'examples per class k (log scale)',
    'top-1 (%)',
    series,
    shots.map((k) => ({ at: Math.log2(k), label: String(k) })),
  );
}

/** Writes `fewShotPlot(curves)` as a PNG to `file` (atomically; `--plot` names it in errors). */
export async function writeFewShotPlot(file: string, curves: FewShotCurve[]): Promise<void> {
  writeOutputFile('plot', file, await svgToPng(fewShotPlot(curves)));
}

/** Class subfolders of `dir` (sorted), each with its image files; hidden names skipped. */
function classFolders(argument: string, dir: string): { name: string; path: string }[] {
  let entries: string[];
  try {
    entries = readdirSync(dir).filter((n) => !n.startsWith('.'));
  } catch {
    throw new UserError(`Flag \`--${argument}\` expects a folder. Received: ${dir} (it cannot be read).`, 2);
  }
  return entries
    .sort()
    .map((name) => ({ name, path: join(dir, name) }))
    .filter((e) => statSync(e.path).isDirectory());
}

async function labelledFolder(
  argument: string,
  dir: string,
  shape: [number, number, number],
  classes: string[],
): Promise<{ set: ImageSet; files: string[] }> {
  const folders = classFolders(argument, dir);
  const sets: { set: ImageSet; files: string[]; label: number }[] = [];
  for (const f of folders) {
    const label = classes.indexOf(f.name);
    check(label >= 0, argument, `class folders named like the support's (${classes.join(', ')})`, f.name);
    const { set, inputs } = await readImages([f.path], shape);
    sets.push({ set, files: inputs.map((i) => i.file), label });
  }
  const count = sets.reduce((n, s) => n + s.set.count, 0);
  const size = shape[0] * shape[1] * shape[2];
  const images = new Uint8Array(count * size);
  const labels = new Int32Array(count);
  let at = 0;
  for (const s of sets) {
    images.set(s.set.images, at * size);
    labels.fill(s.label, at, at + s.set.count);
    at += s.set.count;
  }
  return {
    set: { images, labels, count, height: shape[0], width: shape[1], channels: shape[2] },
    files: sets.flatMap((s) => s.files),
  };
}

export interface FolderFewShot {
  classes: string[];
  supportPerClass: Record<string, number>;
  predictions: { file: string; predicted: string; label?: string }[];
  /** Present when the query folder has class subfolders. */
  accuracy?: number;
}

/**
 * Classifies the images of `queryDir` from the labelled examples in `supportDir` (one subfolder per
 * class, the folder names are the classes). A query folder with class subfolders is scored; a flat
 * one is only labelled.
 */
export async function fewShotFolders(
  frozen: FrozenEncoder,
  supportDir: string,
  queryDir: string,
  settings: Pick<FewShotSettings, 'classifier' | 'neighbours'>,
): Promise<FolderFewShot> {
  const classes = classFolders('support', supportDir).map((f) => f.name);
  check(classes.length >= 2, 'support', 'a folder with at least two class subfolders of images', supportDir);
  const support = await labelledFolder('support', supportDir, frozen.input.shape, classes);
  const labelled = classFolders('query', queryDir).length > 0;
  const query = labelled
    ? await labelledFolder('query', queryDir, frozen.input.shape, classes)
    : await readImages([queryDir], frozen.input.shape).then(({ set, inputs }) => ({
        set,
        files: inputs.map((i) => i.file),
      }));
  const s = frozen.embed(support.set);
  const q = frozen.embed(query.set);
  const predicted = fewShotPredict(s, q.features, {
    classes: classes.length,
    classifier: settings.classifier,
    ...(settings.neighbours !== undefined ? { neighbours: settings.neighbours } : {}),
  });
  const supportPerClass = Object.fromEntries(
    classes.map((c, i) => [c, support.set.labels.filter((l) => l === i).length]),
  );
  const predictions = query.files.map((file, i) => ({
    file,
    predicted: classes[predicted[i]!]!,
    ...(labelled ? { label: classes[query.set.labels[i]!]! } : {}),
  }));
  const result: FolderFewShot = { classes, supportPerClass, predictions };
  if (labelled)
    result.accuracy = predictions.filter((p) => p.predicted === p.label).length / predictions.length;
  return result;
}
