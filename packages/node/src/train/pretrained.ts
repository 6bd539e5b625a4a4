/**
 * Making and checking the shipped pretrained encoders (`@supcon/pretrained`).
 *
 * `packPretrained` turns a finished run into `models/NAME/{card.json, model.json, weights.bin}`: the
 * encoder exported as a stock layers model (features, no head), and a card with the recipe, the
 * command that retrains it, the run's accuracies and a check on a fixed subset. `checkPretrained`
 * recomputes that check from the shipped files: the features of the first test images (exact
 * regression of the weights and the loader) and the kNN top-1 of the first test images against the
 * first training images (the card's accuracy, on a subset small enough for a test).
 *
 * @example
 *   await packPretrained({ run: 'runs/study/epochs20-supcon/seed=2', name: 'fashion-supcon-small',
 *     description: 'small ResNet, SupCon, 20 epochs' });
 *   const result = await checkPretrained('fashion-supcon-small');
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import {
  CARD_FORMAT,
  CARD_VERSION,
  type CardCheck,
  loadPretrained,
  MODELS_DIR,
  type ModelCard,
  type PretrainedEncoder,
} from '@supcon/pretrained';
import { check, type FeatureSet, retrievalMetrics, retrievalScores } from 'supcon';
import { type Dataset, loadDataset } from '../data/index.js';
import { writeFileDurable } from './checkpoint.js';
import { exportRun } from './export.js';
import { evaluateKnn } from './knn.js';
import { runFiles } from './run-folder.js';
import { readSpec } from './session.js';

/** The subset `checkPretrained` recomputes: the run's kNN settings on fewer queries. */
export const PRETRAINED_CHECK = {
  gallery: 10000,
  queries: 1000,
  k: 200,
  temperature: 0.1,
  features: 4,
} as const;

export interface PackOptions {
  /** A finished run folder (config.json, checkpoint.bin, summary.json with its evaluation). */
  run: string;
  name: string;
  description: string;
  /** The models folder to write into (default: the @supcon/pretrained package's own). */
  modelsDir?: string;
  /** The command that retrains the run (default: the one summary.json recorded). */
  command?: string;
  /** The CPU the run trained on (default: this machine's, which is right when packing where it ran). */
  cpu?: string;
  /** Training seconds to record (default: summary.json's; give a quiet machine's figure when that one was not). */
  trainSeconds?: number;
  dataset?: Dataset;
}

const NAME = /^[a-z0-9][a-z0-9._-]*$/;

type Summary = Record<string, unknown> & {
  commandLine?: string[];
  startedAt?: string;
  testAccuracy?: number;
  validationAccuracy?: number;
  trainSeconds?: number;
  knn?: { test?: { top1: number }; validation?: { top1: number } };
  precision?: string;
};

/** Writes model `name` from `run` into the models folder (atomically) and lists it in index.json. */
export async function packPretrained(options: PackOptions): Promise<ModelCard> {
  const { run, name, description } = options;
  check(
    NAME.test(name),
    'name',
    'lower-case letters, digits, ".", "_" or "-", starting with a letter or digit',
    name,
  );
  const summaryFile = runFiles(run).summary;
  check(existsSync(summaryFile), 'run', 'a run folder with summary.json', run);
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as Summary;
  check(
    typeof summary.testAccuracy === 'number',
    'run',
    'an evaluated run (summary.json with testAccuracy: run `supcon linear` on it first)',
    run,
  );
  const spec = readSpec(run);
  const dataset = options.dataset ?? (await loadDataset(spec.data.dataset));
  const modelsDir = options.modelsDir ?? MODELS_DIR;
  mkdirSync(modelsDir, { recursive: true });
  // The pack folder is a models folder of one (index.json, NAME/), so the shipped loader reads it.
  const root = join(modelsDir, `.pack-${name}-${process.pid}`);
  const tmp = join(root, name);
  rmSync(root, { recursive: true, force: true });
  try {
    const exported = await exportRun(run, tmp, { dataset });
    const metadata = JSON.parse(readFileSync(join(tmp, 'model.json'), 'utf8')).userDefinedMetadata.supcon;
    const card: ModelCard = {
      format: CARD_FORMAT,
      version: CARD_VERSION,
      name,
      description,
      method: spec.train.method,
      model: spec.model as unknown as ModelCard['model'],
      dataset: spec.data.dataset,
      classes: [...dataset.classes],
      inputShape: metadata.inputShape,
      preprocessing: metadata.preprocessing,
      outputDim: exported.outputDim,
      parameters: exported.parameters,
      bytes: statSync(join(tmp, 'weights.bin')).size,
      precision: 'fp32',
      trainedPrecision: summary.precision ?? spec.precision ?? 'fp32',
      epochs: spec.train.epochs,
      seed: spec.train.seed,
      command: options.command ?? commandOf(summary, name),
      date: (summary.startedAt ?? new Date().toISOString()).slice(0, 10),
      cpu: options.cpu ?? cpus()[0]?.model.trim() ?? 'unknown',
      trainSeconds: Math.round(options.trainSeconds ?? summary.trainSeconds ?? 0),
      linearProbe: scores(summary.validationAccuracy, summary.testAccuracy),
      knn: scores(summary.knn?.validation?.top1, summary.knn?.test?.top1 ?? Number.NaN),
      check: { ...PRETRAINED_CHECK, knnTop1: 0, features: { count: 0, values: [] } },
    };
    writeFileDurable(join(tmp, 'card.json'), `${JSON.stringify(card, null, 1)}\n`);
    writeIndex(root, [name]);
    // The check is computed through the shipped loader, so it checks what users will load.
    const encoder = await loadPretrained(name, { modelsDir: root });
    try {
      card.check = measureCheck(encoder, dataset);
      card.retrieval = measureRetrieval(encoder, dataset);
    } finally {
      encoder.dispose();
    }
    writeFileDurable(join(tmp, 'card.json'), `${JSON.stringify(card, null, 1)}\n`);
    const dir = join(modelsDir, name);
    if (existsSync(dir)) renameSync(dir, join(root, '.old'));
    renameSync(tmp, dir);
    const index = readIndexFile(modelsDir);
    if (!index.includes(name)) writeIndex(modelsDir, [...index, name]);
    return card;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export interface CheckResult {
  name: string;
  /** Largest |feature − card's feature| over the card's first test images. */
  featuresMaxAbsDiff: number;
  knnTop1: number;
  cardKnnTop1: number;
  gallery: number;
  queries: number;
}

/** Recomputes model `name`'s card check from the shipped files. */
export async function checkPretrained(
  name: string,
  options: { dataset?: Dataset; modelsDir?: string } = {},
): Promise<CheckResult> {
  const encoder = await loadPretrained(
    name,
    options.modelsDir === undefined ? {} : { modelsDir: options.modelsDir },
  );
  try {
    const dataset = options.dataset ?? (await loadDataset(encoder.card.dataset));
    const measured = measureCheck(encoder, dataset, encoder.card.check);
    const expected = encoder.card.check;
    let diff = 0;
    for (let i = 0; i < expected.features.values.length; i++)
      diff = Math.max(diff, Math.abs(measured.features.values[i]! - expected.features.values[i]!));
    return {
      name,
      featuresMaxAbsDiff: diff,
      knnTop1: measured.knnTop1,
      cardKnnTop1: expected.knnTop1,
      gallery: expected.gallery,
      queries: expected.queries,
    };
  } finally {
    encoder.dispose();
  }
}

/**
 * The card's retrieval metrics: the whole test split queried against the whole training file,
 * cosine (what `supcon eval --retrieval --pretrained NAME` reports).
 */
function measureRetrieval(encoder: PretrainedEncoder, dataset: Dataset): Record<string, number> {
  const test = dataset.test!;
  const dim = encoder.card.outputDim;
  const set = (s: typeof test): FeatureSet => ({
    features: encoder.embed(s.images, s.count),
    labels: s.labels,
    count: s.count,
    dim,
  });
  const m = retrievalMetrics(set(test), set(dataset.train), { metric: 'cosine', ks: [1, 5, 10] });
  return retrievalScores(m);
}

function measureCheck(
  encoder: PretrainedEncoder,
  dataset: Dataset,
  settings: Omit<CardCheck, 'knnTop1' | 'features'> & { features?: unknown } = PRETRAINED_CHECK,
): CardCheck {
  const test = dataset.test;
  check(test !== undefined, 'dataset', 'a dataset with a test split', dataset.name);
  const size = test.height * test.width * test.channels;
  const gallery = Math.min(settings.gallery, dataset.train.count);
  const queries = Math.min(settings.queries, test.count);
  const galleryFeatures: FeatureSet = {
    features: encoder.embed(dataset.train.images.subarray(0, gallery * size), gallery),
    labels: dataset.train.labels.subarray(0, gallery),
    count: gallery,
    dim: encoder.card.outputDim,
  };
  const queryFeatures: FeatureSet = {
    features: encoder.embed(test.images.subarray(0, queries * size), queries),
    labels: test.labels.subarray(0, queries),
    count: queries,
    dim: encoder.card.outputDim,
  };
  const knn = evaluateKnn(
    galleryFeatures,
    { test: queryFeatures },
    { k: settings.k, bank: gallery, temperature: settings.temperature, classes: dataset.classes.length },
  );
  const shown = Math.min(PRETRAINED_CHECK.features, queries);
  const values = Array.from(queryFeatures.features.subarray(0, shown * encoder.card.outputDim));
  return {
    gallery,
    queries,
    k: settings.k,
    temperature: settings.temperature,
    knnTop1: knn.test!.top1,
    features: { count: shown, values },
  };
}

/**
 * The commands that make the model again: `supcon train` as summary.json recorded it (its output
 * folder renamed runs/NAME, the output-only flags dropped), then the linear probe the card reports.
 */
function commandOf(summary: Summary, name: string): string {
  const line = summary.commandLine;
  if (!line) return 'unknown';
  const out = `runs/${name}`;
  const kept: string[] = [];
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '--out') i++;
    else if (line[i] !== '--json' && line[i] !== '--quiet') kept.push(line[i]!);
  }
  const [supcon, train, ...flags] = kept;
  return `npx ${supcon} ${train} --out ${out} ${flags.join(' ')} && npx supcon linear --run ${out}`;
}

const scores = (validation: number | undefined, test: number) =>
  validation === undefined ? { test } : { validation, test };

function readIndexFile(dir: string): string[] {
  const file = join(dir, 'index.json');
  return existsSync(file)
    ? ((JSON.parse(readFileSync(file, 'utf8')) as { models: string[] }).models ?? [])
    : [];
}

function writeIndex(dir: string, models: string[]): void {
  writeFileDurable(join(dir, 'index.json'), `${JSON.stringify({ models }, null, 1)}\n`);
}
