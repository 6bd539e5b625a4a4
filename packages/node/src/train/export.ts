/**
 * Export a trained run to the TensorFlow.js layers format: a folder with `model.json` and
 * `weights.bin` that `tf.loadLayersModel('…/model.json')` loads in a browser (stock layers only, except a ViT's custom layers, registered by `import 'supcon'`),
 * with the input normalisation and the class names in `userDefinedMetadata.supcon`.
 *
 * The folder is replaced atomically: the files are written and fsynced in a sibling temp folder,
 * which is then renamed into place, so a reader sees either the old export or the new one whole.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { check, layersModelFiles, layersModelFromFiles, type Network, toLayersModel } from 'supcon';
import { type Dataset, loadDataset } from '../data/index.js';
import { loadCheckpoint, writeFileDurable } from './checkpoint.js';
import { runFiles } from './run-folder.js';
import { buildEncoder, buildHead, type RunSpec } from './spec.js';
import { upgradeRunSpec } from './spec-legacy.js';

export const EXPORT_FILES = ['model.json', 'weights.bin'] as const;

/** What the exported model computes, recorded in its metadata. */
export type ExportOutput = 'features' | 'embeddings' | 'logits';

/** `userDefinedMetadata.supcon` of an exported model. */
export interface ExportMetadata {
  format: 'supcon-layers-export';
  version: 1;
  /** 'features' (encoder only), 'embeddings' (projection head, unit rows) or 'logits' (ce head). */
  output: ExportOutput;
  outputDim: number;
  /** One image, [height, width, channels] (NHWC; the model takes a batch [B, H, W, C]). */
  inputShape: [number, number, number];
  /** Model input = (pixel / 255 − mean[c]) / std[c], per channel c. */
  preprocessing: { scale: number; mean: number[]; std: number[] };
  classes: string[];
  dataset: string;
  method: RunSpec['train']['method'];
  /** The run's model spec, `{ encoder, head }` (models/spec.ts); the layers model was built from it. */
  model: RunSpec['model'];
  /** Trainable parameters (BatchNorm running statistics not counted). */
  parameters: number;
}

export interface ExportResult {
  dir: string;
  files: string[];
  bytes: number;
  output: ExportOutput;
  outputDim: number;
  parameters: number;
}

/** What an export needs to know about the data: the image shape and the dataset's statistics. */
export interface ExportData {
  dataset: Pick<Dataset, 'name' | 'classes' | 'mean' | 'std'>;
  train: { height: number; width: number; channels: number };
}

/**
 * Writes `encoder` (and `head` when given) of a run as a layers model into `outDir`.
 * Example, at the end of training: `await exportLayersModel(runFiles(runDir).encoder, { spec, encoder, data })`.
 */
export async function exportLayersModel(
  outDir: string,
  options: { spec: RunSpec; encoder: Network; head?: Network; data: ExportData },
): Promise<ExportResult> {
  const { spec, encoder, head, data } = options;
  const inputShape: [number, number, number] = [data.train.height, data.train.width, data.train.channels];
  const output: ExportOutput = head ? (spec.train.method === 'ce' ? 'logits' : 'embeddings') : 'features';
  const count = (n: Network) => n.parameters().reduce((s, p) => s + p.variable.size, 0);
  const metadata: ExportMetadata = {
    format: 'supcon-layers-export',
    version: 1,
    output,
    outputDim: head ? head.outputDim : encoder.outputDim,
    inputShape,
    preprocessing: { scale: 1 / 255, mean: [...data.dataset.mean], std: [...data.dataset.std] },
    classes: [...data.dataset.classes],
    dataset: data.dataset.name,
    method: spec.train.method,
    model: spec.model,
    parameters: count(encoder) + (head ? count(head) : 0),
  };
  const model = toLayersModel({
    inputShape,
    encoder: spec.model.encoder,
    encoderWeights: encoder.variables(),
    ...(head ? { head: { spec: spec.model.head, weights: head.variables() } } : {}),
    name: head ? 'supcon_encoder_head' : 'supcon_encoder',
  });
  try {
    const { modelJson, weights } = await layersModelFiles(model, { supcon: metadata });
    const json = `${JSON.stringify(modelJson)}\n`;
    replaceFolder(outDir, { 'model.json': json, 'weights.bin': weights });
    return {
      dir: outDir,
      files: EXPORT_FILES.map((f) => join(outDir, f)),
      bytes: Buffer.byteLength(json) + weights.byteLength,
      output,
      outputDim: metadata.outputDim,
      parameters: metadata.parameters,
    };
  } finally {
    model.dispose();
  }
}

/** Writes `files` into a fresh sibling folder and renames it over `dir` (only ever an earlier export). */
function replaceFolder(dir: string, files: Record<string, string | Uint8Array>): void {
  if (existsSync(dir)) {
    check(statSync(dir).isDirectory(), 'out', 'a folder path (not a file)', dir);
    const foreign = readdirSync(dir).filter((f) => !(EXPORT_FILES as readonly string[]).includes(f));
    check(
      foreign.length === 0,
      'out',
      'a new or empty folder, or an earlier export (it would be replaced)',
      `${dir} holding ${foreign.slice(0, 3).join(', ')}`,
    );
  }
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const tmp = join(parent, `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  // weights.bin first: whoever finds model.json finds its weights.
  for (const name of ['weights.bin', 'model.json']) writeFileDurable(join(tmp, name), files[name]!);
  if (existsSync(dir)) {
    const old = join(parent, `.${basename(dir)}.old-${process.pid}`);
    renameSync(dir, old);
    renameSync(tmp, dir);
    rmSync(old, { recursive: true, force: true });
  } else {
    renameSync(tmp, dir);
  }
}

/**
 * Exports a run folder (its `config.json` and `checkpoint.bin`) or a checkpoint file (its spec is
 * in the checkpoint's metadata). The dataset is loaded for its image shape, class names and
 * statistics unless given.
 */
export async function exportRun(
  source: string,
  outDir: string,
  options: { withHead?: boolean; dataset?: Dataset; datasetSpec?: string } = {},
): Promise<ExportResult & { source: string; checkpoint: string }> {
  check(existsSync(source), 'source', 'an existing run folder or checkpoint file', source);
  const checkpoint = statSync(source).isDirectory() ? runFiles(source).checkpoint : source;
  check(existsSync(checkpoint), 'source', 'a run folder holding checkpoint.bin', source);
  const { state, meta } = loadCheckpoint(checkpoint);
  const configFile = runFiles(dirname(checkpoint)).config;
  const raw =
    meta['spec'] ?? (existsSync(configFile) ? JSON.parse(readFileSync(configFile, 'utf8')) : undefined);
  // Either may be in the older flat model format (spec-legacy.ts).
  const spec = raw === undefined ? undefined : upgradeRunSpec(raw);
  check(
    spec !== undefined,
    'source',
    'a checkpoint with its run spec, or a run folder with config.json',
    source,
  );
  const dataset = options.dataset ?? (await loadDataset(options.datasetSpec ?? spec.data.dataset));
  const shape: [number, number, number] = [dataset.train.height, dataset.train.width, dataset.train.channels];
  const encoder = buildEncoder(spec.model, shape, spec.train.seed);
  const head = buildHead(spec, encoder.outputDim, dataset.classes.length);
  try {
    const restore = (net: Network, prefix: string) => {
      for (const p of net.variables()) {
        const saved = state.variables[`${prefix}/${p.name}`];
        check(
          saved !== undefined && saved.shape.join('x') === p.variable.shape.join('x'),
          'checkpoint',
          `weights for ${prefix}/${p.name} of shape [${p.variable.shape}] (does the dataset match the run?)`,
          saved ? `shape [${saved.shape}]` : Object.keys(state.variables).slice(0, 4),
        );
        p.variable.assign(tf.tensor(saved.values, saved.shape, 'float32'));
      }
    };
    restore(encoder, 'encoder');
    if (options.withHead) restore(head, 'head');
    const data: ExportData = { dataset, train: dataset.train };
    const result = await exportLayersModel(outDir, {
      spec,
      encoder,
      ...(options.withHead ? { head } : {}),
      data,
    });
    return { ...result, source, checkpoint };
  } finally {
    tf.dispose([...encoder.variables(), ...head.variables()].map((p) => p.variable));
  }
}

/** Loads an exported folder in Node (tfjs has no file:// handler here): the same model a browser gets. */
export function loadExportedModel(dir: string): Promise<LayersModel> {
  const modelJson = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
  const manifest = (modelJson['weightsManifest'] ?? []) as { paths: string[] }[];
  const parts = manifest.flatMap((g) => g.paths.map((p) => readFileSync(join(dir, p))));
  return layersModelFromFiles(modelJson, new Uint8Array(Buffer.concat(parts)));
}

/** The `userDefinedMetadata.supcon` of a loaded export. */
export function exportMetadata(model: LayersModel): ExportMetadata | undefined {
  return (model.getUserDefinedMetadata() as { supcon?: ExportMetadata } | undefined)?.supcon;
}
