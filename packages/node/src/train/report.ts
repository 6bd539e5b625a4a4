/**
 * The run report: `report.html` in a run folder with its PNG charts (training loss per step; the
 * kNN monitor's validation top-1 per epoch; the final accuracies; a 2-D UMAP (or PCA) picture of
 * the embeddings coloured by class), built from what the folder holds: config.json (hyperparameters),
 * metrics.jsonl (curves), summary.json (results, date and command line), robustness.json (mean
 * top-1 and calibration error per corruption severity). A run missing some of it still gets a
 * report, which names each missing piece and the command that adds it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type FeatureSet, InvalidArgumentError, type ModelSpec, type Projection, project2 } from 'supcon';
import { subset } from '../data/index.js';
import { writeFileDurable } from './checkpoint.js';
import { embedImages } from './embed.js';
import { loadRunEncoder } from './evaluate.js';
import { knnTestTop1 } from './knn.js';
import { writeOutputFile } from './output.js';
import {
  type Bar,
  barPlot,
  closeUpAxis,
  esc,
  linePlot,
  type Series,
  scatterPlot,
  svgToPng,
} from './plots.js';
import { type RobustnessResult, severityMeans } from './robustness.js';
import { runFiles } from './session.js';
import { augmentSteps } from './spec.js';
import { isLegacyModel, type LegacyModelSpec, upgradeModel } from './spec-legacy.js';

export {
  type BarAxis,
  type Box,
  barPlot,
  boxPlot,
  closeUpAxis,
  linePlot,
  type Series,
  scatterPlot,
} from './plots.js';

/** Writes the PNG of an SVG chart atomically. */
export async function png(svg: string, file: string): Promise<void> {
  writeFileDurable(file, await svgToPng(svg));
}

/** Embeddings to draw, and the split they come from (a run without a test split shows validation). */
export interface ReportEmbeddings {
  features: FeatureSet;
  split: 'test' | 'validation';
  classes: string[];
}

export interface ReportOptions {
  embeddings?: ReportEmbeddings;
  /** Why there are no embeddings (shown in the report with what would add them). */
  embeddingsMissing?: string;
  /** How the embeddings are drawn in 2-D (default 'umap'; PCA where UMAP has too few points). */
  projection?: Projection;
  /** The report's own date (default now). */
  now?: Date;
}

export interface ReportResult {
  /** The path of report.html. */
  file: string;
  /** The PNG files it shows, in the run folder. */
  figures: string[];
  /** One sentence per piece the run lacks, each naming the command that adds it. */
  missing: string[];
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const pct = (v: number) => `${(100 * v).toFixed(2)}%`;

const METHODS: Record<string, string> = {
  supcon: 'SupCon (supervised contrastive)',
  simclr: 'SimCLR (self-supervised contrastive)',
  ce: 'Cross-entropy (supervised baseline)',
};
const LOSSES: Record<string, string> = {
  supcon: 'SupCon loss',
  simclr: 'SimCLR loss',
  ce: 'cross-entropy loss',
};
const ENCODERS: Record<string, string> = {
  'small-resnet': 'small ResNet',
  mlp: 'MLP',
  resnet18: 'ResNet-18',
  resnet34: 'ResNet-34',
  resnet50: 'ResNet-50',
};
const AUGMENTS: Record<string, string> = {
  none: 'none',
  light: 'light (random resized crop 0.6–1, horizontal flip)',
  supcon: 'SupCon (random resized crop 0.2–1, flip, colour jitter, grayscale)',
  randaugment: 'RandAugment after light (random resized crop 0.6–1, flip)',
  autoaugment: 'AutoAugment, CIFAR-10 policy, after light (random resized crop 0.6–1, flip)',
};

function readJsonFile(file: string): Json | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return obj(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    throw new InvalidArgumentError('run', `a run folder whose ${file} is valid JSON`, file);
  }
}

interface Records {
  steps: { iteration: number; loss: number }[];
  epochs: { epoch: number; iteration: number; loss: number; knnAccuracy?: number; accuracy?: number }[];
}

/** The step and epoch records of metrics.jsonl (a torn last line of a killed process is skipped). */
function readMetrics(file: string): Records | undefined {
  if (!existsSync(file)) return undefined;
  const records: Records = { steps: [], epochs: [] };
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let r: Json;
    try {
      r = obj(JSON.parse(line));
    } catch {
      continue;
    }
    const iteration = num(r['iteration']);
    const loss = num(r['loss']);
    if (iteration === undefined || loss === undefined) continue;
    if (r['type'] === 'step') records.steps.push({ iteration, loss });
    else if (r['type'] === 'epoch') {
      const knn = num(r['knnAccuracy']);
      const accuracy = num(r['accuracy']);
      records.epochs.push({
        epoch: num(r['epoch']) ?? records.epochs.length,
        iteration,
        loss,
        ...(knn !== undefined ? { knnAccuracy: knn } : {}),
        ...(accuracy !== undefined ? { accuracy } : {}),
      });
    }
  }
  return records;
}

/** A command line as one shell-quoted string. */
export function shellLine(words: string[]): string {
  return words.map((w) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(' ');
}

function date(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/**
 * The encoder and projection head of a config.json's `model` as report text, for `{ encoder, head }`
 * and the older flat format alike (upgraded as training reads it); undefined where it is not a model.
 */
function describeModel(
  model: Json,
  method: string | undefined,
): { encoder: string; head?: string } | undefined {
  let spec: ModelSpec;
  try {
    spec = isLegacyModel(model)
      ? upgradeModel(model as Partial<LegacyModelSpec>, method === 'ce' ? 'ce' : 'supcon')
      : (model as unknown as ModelSpec);
  } catch {
    return undefined;
  }
  const e = obj(spec.encoder);
  const name = str(e['kind']) === 'resnet' ? `resnet${e['depth']}` : str(e['kind']);
  if (name === undefined) return undefined;
  const detail =
    e['kind'] === 'mlp' && Array.isArray(e['hidden'])
      ? `, hidden ${(e['hidden'] as unknown[]).join('–')}`
      : e['kind'] === 'small-resnet' && e['baseChannels'] !== undefined
        ? `, width ${e['baseChannels']}`
        : e['kind'] === 'resnet' && e['widthMultiplier'] !== undefined && e['widthMultiplier'] !== 1
          ? `, width ×${e['widthMultiplier']}`
          : '';
  const h = obj(spec.head);
  const head =
    method !== 'ce' && h['kind'] === 'projection'
      ? `${h['projection']}, ${h['outputDim']} dimensions`
      : undefined;
  return { encoder: `${ENCODERS[name] ?? name}${detail}`, ...(head ? { head } : {}) };
}

/** The hyperparameters of config.json as labelled rows (absent keys are left out). */
function hyperparameters(config: Json): [string, string][] {
  const train = obj(config['train']);
  const model = obj(config['model']);
  const data = obj(config['data']);
  const optimizer = obj(train['optimizer']);
  const method = str(train['method']);
  const rows: [string, string | undefined][] = [];
  rows.push(['Method', method && (METHODS[method] ?? method)]);
  const limit = num(data['limit']);
  rows.push([
    'Dataset',
    str(data['dataset']) && `${data['dataset']}${limit ? ` (first ${limit} training images)` : ''}`,
  ]);
  rows.push(['Validation split', data['validation'] !== undefined ? String(data['validation']) : undefined]);
  if (data['size'] !== undefined || data['grayscale'] !== undefined)
    rows.push([
      'Image size',
      `${data['size'] ?? 'as stored'}${data['grayscale'] === true ? ', grayscale' : data['grayscale'] === false ? ', colour' : ''}`,
    ]);
  const described = describeModel(model, method);
  rows.push(['Encoder', described?.encoder]);
  if (described?.head) rows.push(['Projection head', described.head]);
  rows.push(['Epochs', train['epochs'] !== undefined ? String(train['epochs']) : undefined]);
  rows.push(['Batch size', train['batchSize'] !== undefined ? String(train['batchSize']) : undefined]);
  rows.push(['Views per image', train['views'] !== undefined ? String(train['views']) : undefined]);
  const lr = num(train['lr']);
  rows.push([
    'Learning rate',
    lr !== undefined ? `${lr}${train['scaleWithBatch'] === true ? ' × batch/256' : ''}` : undefined,
  ]);
  const decay = str(train['decay']);
  rows.push([
    'Schedule',
    decay &&
      `${decay}${num(train['warmupEpochs']) ? `, ${train['warmupEpochs']} warm-up epochs` : ''}${decay === 'step' && Array.isArray(train['milestones']) ? `, ×${train['gamma']} at epochs ${(train['milestones'] as unknown[]).join(', ')}` : ''}`,
  ]);
  const kind = str(optimizer['kind']);
  rows.push([
    'Optimizer',
    kind &&
      `${kind.toUpperCase()}${optimizer['momentum'] !== undefined ? `, momentum ${optimizer['momentum']}` : ''}${optimizer['weightDecay'] !== undefined ? `, weight decay ${optimizer['weightDecay']}` : ''}`,
  ]);
  if (method !== 'ce') {
    rows.push([
      'Temperature τ',
      train['temperature'] !== undefined ? String(train['temperature']) : undefined,
    ]);
    if (train['baseTemperature'] !== undefined)
      rows.push(['Base temperature', String(train['baseTemperature'])]);
  } else {
    const smoothing = num(train['labelSmoothing']);
    if (smoothing) rows.push(['Label smoothing', String(smoothing)]);
    const mixes = [
      num(train['mixupAlpha']) ? `mixup α ${train['mixupAlpha']}` : '',
      num(train['cutmixAlpha']) ? `cutmix α ${train['cutmixAlpha']}` : '',
    ].filter(Boolean);
    if (mixes.length) {
      const p = num(train['mixProb']) ?? 1;
      const pick = mixes.length === 2 ? ', one of the two per mixed batch' : '';
      rows.push(['Mixing', `${mixes.join(' or ')}${pick}, probability ${p} per batch`]);
    }
  }
  const augment = str(data['augment']);
  const magnitude = data['randAugmentMagnitude'];
  const ops = data['randAugmentOps'];
  const policy =
    augment === 'randaugment' && magnitude !== undefined ? `, magnitude ${magnitude} of 30, ${ops} ops` : '';
  const erasing = num(data['randomErasing']);
  const erased = erasing === undefined ? '' : `, then random erasing with probability ${erasing}`;
  rows.push(['Augmentation', augment && `${AUGMENTS[augment] ?? augment}${policy}${erased}`]);
  rows.push([
    'Precision asked',
    str(config['precision']) ?? (Object.keys(config).length ? 'fp32' : undefined),
  ]);
  rows.push(['Seed', train['seed'] !== undefined ? String(train['seed']) : undefined]);
  const k = num(config['knnK']);
  rows.push(['kNN monitor', k === undefined ? undefined : k > 0 ? `k ${k}, after every epoch` : 'off']);
  if (Array.isArray(config['extensions']))
    for (const e of config['extensions'] as Json[])
      rows.push([
        'Extended',
        `from ${e['fromEpochs']} to ${e['toEpochs']} epochs at iteration ${e['atIteration']}`,
      ]);
  return rows.filter((r): r is [string, string] => r[1] !== undefined);
}

/** Final accuracies of summary.json as labelled rows, each naming its split and settings. */
function results(summary: Json, records: Records | undefined): { label: string; value: number }[] {
  const out: { label: string; value: number }[] = [];
  const add = (label: string, v: unknown) => {
    const n = num(v);
    if (n !== undefined) out.push({ label, value: n });
  };
  const knn = obj(summary['knn']);
  const knnSettings = knn['k'] !== undefined ? ` (k ${knn['k']}, bank ${knn['bank']})` : '';
  if (summary['testSet'] === false) {
    add('linear probe top-1, validation (no test split)', summary['validationAccuracy']);
    add('linear probe top-5, validation (no test split)', summary['validationTop5']);
  } else {
    add('linear probe top-1, test', summary['testAccuracy']);
    add('linear probe top-5, test', summary['testTop5']);
    add('linear probe top-1, validation', summary['validationAccuracy']);
    const test = knnTestTop1(summary);
    if (test)
      add(`kNN top-1, test${test.k !== undefined ? ` (k ${test.k}, bank ${test.bank})` : ''}`, test.top1);
  }
  add(`kNN top-1, validation${knnSettings}`, obj(knn['validation'])['top1']);
  add('own classifier top-1, test', summary['classifierTestAccuracy']);
  add('own classifier top-1, validation', summary['classifierValidationAccuracy']);
  const last = records?.epochs.at(-1);
  if (last?.knnAccuracy !== undefined) add('kNN monitor top-1, validation, last epoch', last.knnAccuracy);
  if (last?.accuracy !== undefined) add('training top-1, last epoch (augmented views)', last.accuracy);
  add('robustness: clean test top-1', summary['cleanTestAccuracy']);
  add('robustness: mean corruption error', summary['meanCorruptionError']);
  if (num(summary['mCE']) !== undefined)
    add(`robustness: mCE against ${str(summary['mCEBaseline']) ?? 'the baseline'}`, summary['mCE']);
  return out;
}

/**
 * The robustness table of robustness.json: per severity (clean first) the mean over corruptions of
 * the probe's top-1 and of its expected calibration error. Files written before ECE was recorded
 * show top-1 alone ("not recorded").
 */
function robustnessTable(rb: Json): string | undefined {
  if (!Array.isArray(rb['severities']) || num(rb['cleanAccuracy']) === undefined) return undefined;
  const result = rb as unknown as RobustnessResult;
  const means = severityMeans({ ...result, accuracy: obj(result.accuracy) });
  const ece = (v: number | undefined) => (num(v) === undefined ? 'not recorded' : pct(v!));
  const rows = [
    ['clean', pct(result.cleanAccuracy), ece(result.cleanCalibrationError)],
    ...result.severities.map((s, k) => [
      String(s),
      pct(means.accuracy[k]!),
      ece(means.calibrationError?.[k]),
    ]),
  ];
  const cells = (tag: string, r: string[]) =>
    `<tr>${r.map((c) => `<${tag}>${esc(c)}</${tag}>`).join('')}</tr>`;
  return `<p>Linear probe on ${result.testImages} test images; means over ${Object.keys(obj(result.accuracy)).length} corruption(s).</p>
<table>${cells('th', ['severity', 'mean top-1', `mean ECE (${result.calibrationBins ?? 15} bins)`])}
${rows.map((r) => cells('td', r)).join('\n')}</table>`;
}

/**
 * Writes `runDir/report.html` and its PNG charts (loss.png, accuracy.png, results.png, embedding.png,
 * each only when there is something to draw) from the run folder's files. Every chart is rendered
 * before anything is written, each file is written atomically, and report.html last, so a failure
 * leaves the previous report whole. InvalidArgumentError naming `run` for a folder that is not a run.
 *
 * @example
 *   const { file, missing } = await writeRunReport('runs/demo-1');
 */
export async function writeRunReport(runDir: string, options: ReportOptions = {}): Promise<ReportResult> {
  const files = runFiles(runDir);
  const config = readJsonFile(files.config);
  const records = readMetrics(files.metrics);
  if (config === undefined && records === undefined)
    throw new InvalidArgumentError('run', 'a run folder holding config.json or metrics.jsonl', runDir);
  const summary = readJsonFile(files.summary) ?? {};
  const spec = config ?? {};
  const method = str(obj(spec['train'])['method']) ?? str(summary['method']) ?? '';
  const missing: string[] = [];
  const charts: { file: string; svg: string; alt: string }[] = [];

  if (records && records.steps.length > 0) {
    const every = Math.max(1, Math.floor(records.steps.length / 400));
    const points = records.steps
      .filter((_, i) => i % every === 0)
      .map((r) => [r.iteration + 1, r.loss] as [number, number]);
    const epochLoss = records.epochs.map((r) => [r.iteration, r.loss] as [number, number]);
    const series: Series[] = [{ name: 'per step', points, color: '#9ecae1' }];
    if (epochLoss.length > 0)
      series.push({ name: 'mean over each epoch', points: epochLoss, color: '#08519c' });
    charts.push({
      file: 'loss.png',
      alt: 'Training loss against iteration',
      svg: linePlot('Training loss', 'iteration (training step)', LOSSES[method] ?? 'loss', series),
    });
  } else
    missing.push(
      `No training steps in metrics.jsonl, so no loss curve: train the run (\`supcon train --out ${runDir}\`, or \`--resume\` to continue it).`,
    );

  const epochs = records?.epochs ?? [];
  const perEpoch: Series[] = [];
  const knnPoints = epochs.flatMap((r) =>
    r.knnAccuracy !== undefined ? [[r.epoch + 1, 100 * r.knnAccuracy] as [number, number]] : [],
  );
  const knnK = num(spec['knnK']);
  if (knnPoints.length > 0)
    perEpoch.push({
      name: `kNN top-1 on validation${knnK ? ` (k ${knnK})` : ''}`,
      points: knnPoints,
      color: '#31a354',
    });
  const trainAcc = epochs.flatMap((r) =>
    r.accuracy !== undefined ? [[r.epoch + 1, 100 * r.accuracy] as [number, number]] : [],
  );
  if (trainAcc.length > 0)
    perEpoch.push({ name: 'training top-1 (augmented views)', points: trainAcc, color: '#ff7f0e' });
  if (perEpoch.length > 0)
    charts.push({
      file: 'accuracy.png',
      alt: 'Accuracy after each epoch, in percent',
      svg: linePlot('Accuracy after each epoch', 'epoch', 'top-1 (%)', perEpoch),
    });
  else if (knnK === 0)
    missing.push('The kNN monitor was off (`--knn-k 0`), so there is no validation curve per epoch.');
  else if (epochs.length === 0)
    missing.push(
      `No epoch has finished, so there is no curve per epoch: continue the run with \`supcon train --resume --out ${runDir}\`.`,
    );

  const final = results(summary, records);
  if (final.length > 0)
    charts.push({
      file: 'results.png',
      alt: 'Final accuracies in percent',
      svg: barPlot(
        'Final accuracies',
        'percent',
        final.map((r, i): Bar => ({ label: r.label, value: 100 * r.value, color: barColor(r.label, i) })),
      ),
    });
  const probed = num(summary['testAccuracy']) !== undefined || summary['testSet'] === false;
  if (!probed)
    missing.push(
      `No linear-probe results in summary.json: \`supcon linear --run ${runDir}\` adds them (and keeps the probe for \`supcon predict\`).`,
    );
  if (num(summary['meanCorruptionError']) === undefined && summary['testSet'] !== false)
    missing.push(`No corruption robustness: \`supcon robustness --run ${runDir}\` adds it.`);
  const robustnessFile = readJsonFile(files.robustness);
  const robustness = robustnessFile ? robustnessTable(robustnessFile) : undefined;
  if (robustness && robustnessFile?.['calibrationError'] === undefined)
    missing.push(
      `robustness.json was written before the calibration error was recorded: \`supcon robustness --run ${runDir}\` adds it.`,
    );

  const baseline = baselineSection(summary, method);
  if (baseline)
    charts.push({
      file: 'comparison.png',
      alt: 'Test top-1 of this run and of its cross-entropy baseline, in percent',
      svg: barPlot(
        'Against the cross-entropy baseline',
        'test top-1 %',
        baseline.bars,
        closeUpAxis(baseline.bars.map((b) => b.value)),
      ),
    });

  const shown = options.embeddings;
  if (shown && shown.features.count > 0) {
    const { points, labels, method } = project2(shown.features, options.projection ?? 'umap');
    const split = shown.split === 'test' ? 'Test' : 'Validation';
    charts.push({
      file: 'embedding.png',
      alt: `${split} embeddings projected to 2-D by ${method === 'umap' ? 'UMAP' : 'PCA'}`,
      svg: scatterPlot(
        `${split} embeddings (${points.length} images, encoder features, ${method === 'umap' ? 'UMAP' : 'PCA'} to 2-D)`,
        points,
        labels,
        shown.classes,
      ),
    });
  } else if (options.embeddingsMissing) missing.push(options.embeddingsMissing);

  const started = str(summary['startedAt']);
  const commandLine = Array.isArray(summary['commandLine'])
    ? (summary['commandLine'] as string[])
    : undefined;
  if (!commandLine)
    missing.push('The command line that made this run was not recorded (runs trained before it was).');
  const recordedSince = existsSync(files.config) ? statSync(files.config).mtime.toISOString() : undefined;
  const runRows: [string, string][] = [
    ['Run folder', runDir],
    [
      'Started',
      started
        ? date(started)
        : `not recorded${recordedSince ? ` (config.json last written ${date(recordedSince)})` : ''}`,
    ],
    ['Command line', commandLine ? shellLine(commandLine) : 'not recorded'],
  ];
  const resumes = Array.isArray(summary['resumes']) ? (summary['resumes'] as Json[]) : [];
  for (const r of resumes)
    runRows.push([
      'Resumed',
      `${date(str(r['at']) ?? '')} at iteration ${r['fromIteration']}: ${shellLine((r['commandLine'] as string[]) ?? [])}`,
    ]);
  const planned = num(obj(spec['train'])['epochs']);
  const last = epochs.at(-1);
  if (records)
    runRows.push([
      'Trained',
      `${records.steps.at(-1) ? records.steps.at(-1)!.iteration + 1 : 0} iterations, ${last ? last.epoch + 1 : 0}${planned !== undefined ? ` of ${planned}` : ''} epochs`,
    ]);
  if (last) runRows.push(['Final epoch loss', last.loss.toFixed(4)]);
  if (str(summary['backend'])) runRows.push(['Backend', String(summary['backend'])]);
  if (str(summary['precision'])) runRows.push(['Precision in effect', String(summary['precision'])]);
  runRows.push(['Report written', date((options.now ?? new Date()).toISOString())]);

  const rendered = await Promise.all(charts.map(async (c) => ({ ...c, bytes: await svgToPng(c.svg) })));
  for (const c of rendered) writeOutputFile('run', join(runDir, c.file), c.bytes);
  const table = (rows: [string, string][]) =>
    `<table>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('\n')}</table>`;
  const title = `${METHODS[method] ?? 'supcon'} run report`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}: ${esc(runDir)}</title>
<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}th{text-align:left;padding-right:1em;font-weight:normal;color:#555}td{font-family:monospace}img{max-width:100%;display:block;margin:1em 0}li{margin:.3em 0}</style>
</head><body>
<h1>${esc(title)}</h1>
<h2>Run</h2>
${table(runRows)}
<h2>Hyperparameters</h2>
${config ? table(hyperparameters(config)) : '<p>No config.json in the run folder: the hyperparameters are not known.</p>'}
<h2>Results</h2>
${final.length > 0 ? table(final.map((r) => [r.label, pct(r.value)])) : '<p>No results recorded yet.</p>'}
${baseline ? `<h2>Baseline</h2>\n<p>${esc(baseline.sentence)}</p>\n${baseline.table}` : ''}
${robustness ? `<h2>Robustness under corruptions</h2>\n${robustness}` : ''}
${missing.length > 0 ? `<h2>Not in this report</h2>\n<ul>${missing.map((m) => `<li>${esc(m).replace(/`([^`]+)`/g, '<code>$1</code>')}</li>`).join('\n')}</ul>` : ''}
<h2>Charts</h2>
${rendered.map((c) => `<img src="${c.file}" alt="${esc(c.alt)}">`).join('\n')}
</body></html>
`;
  const file = join(runDir, 'report.html');
  writeOutputFile('run', file, html);
  return { file, figures: rendered.map((c) => c.file), missing };
}

/**
 * The Baseline section of a run whose summary.json holds `baseline` (`supcon demo --baseline ce`):
 * this run and the cross-entropy run side by side (epochs, views, measured training seconds, the
 * linear probe's and the classifier's top-1), a sentence with the difference, and the bars.
 */
function baselineSection(
  summary: Json,
  method: string,
): { table: string; sentence: string; bars: Bar[] } | undefined {
  const b = obj(summary['baseline']);
  if (Object.keys(b).length === 0) return undefined;
  const split = summary['testSet'] === false ? 'validation' : 'test';
  const key = split === 'test' ? 'testAccuracy' : 'validationAccuracy';
  const ours = num(summary[key]);
  const theirs = num(b[key]);
  const own = num(b[split === 'test' ? 'classifierTestAccuracy' : 'classifierValidationAccuracy']);
  const name = method === 'simclr' ? 'SimCLR' : method === 'ce' ? 'cross-entropy' : 'SupCon';
  const cell = (v: number | undefined) => (v === undefined ? 'not recorded' : pct(v));
  const secs = (v: unknown) => (num(v) === undefined ? 'not recorded' : `${Math.round(num(v)!)} s`);
  const row = (label: string, a: string, c: string) =>
    `<tr><th>${esc(label)}</th><td>${esc(a)}</td><td>${esc(c)}</td></tr>`;
  const table = `<table><tr><th></th><th>${esc(`${name} (this run)`)}</th><th>cross-entropy (${esc(str(b['run']) ?? 'baseline')})</th></tr>
${row('epochs', String(num(summary['epochs']) ?? '?'), String(num(b['epochs']) ?? '?'))}
${row('training time (measured)', secs(summary['trainSeconds']), secs(b['trainSeconds']))}
${row(`linear probe top-1, ${split}`, cell(ours), cell(theirs))}
${row(`own classifier top-1, ${split}`, 'no classifier', cell(own))}
</table>`;
  const diff = (a: number | undefined, c: number | undefined) =>
    a === undefined || c === undefined ? 'not known' : `${(100 * (a - c)).toFixed(2)} points`;
  const sentence = `${name}'s linear probe minus cross-entropy's: ${diff(ours, theirs)} against its probe, ${diff(ours, own)} against its own classifier (${split} split, one seed each: differences under about 0.5 points are within the seed spread of docs/findings.md).`;
  const bars: Bar[] = [];
  if (ours !== undefined) bars.push({ label: `${name}: linear probe`, value: 100 * ours, color: '#08519c' });
  if (theirs !== undefined)
    bars.push({ label: 'cross-entropy: linear probe', value: 100 * theirs, color: '#6baed6' });
  if (own !== undefined)
    bars.push({ label: 'cross-entropy: own classifier', value: 100 * own, color: '#fd8d3c' });
  return { table, sentence, bars };
}

/** One colour per kind of measurement: probe, kNN, classifier, training, robustness. */
function barColor(label: string, i: number): string {
  if (label.startsWith('linear probe')) return label.includes('test') ? '#d62728' : '#1f77b4';
  if (label.startsWith('kNN')) return '#31a354';
  if (label.startsWith('own classifier')) return '#9467bd';
  if (label.startsWith('training')) return '#ff7f0e';
  return ['#7f7f7f', '#8c564b', '#bcbd22'][i % 3]!;
}

/**
 * Encoder features of up to `points` images of the run's test split (its validation split when the
 * dataset has none), evenly spaced through the split, for the report's embedding chart. Loads the
 * dataset and the checkpoint's weights; the backend must be set.
 */
export async function runEmbeddings(runDir: string, points: number): Promise<ReportEmbeddings> {
  const { encoder, data, classifier } = await loadRunEncoder(runDir);
  const test = data.dataset.test;
  const set = test ?? data.validation;
  const n = Math.min(points, set.count);
  const picked = subset(
    set,
    Int32Array.from({ length: n }, (_, i) => Math.floor((i * set.count) / n)),
  );
  const { mean, std } = data.dataset;
  const steps = augmentSteps('none', [set.height, set.width], mean, std).eval;
  const features = embedImages(encoder, picked, steps);
  tf.dispose([...encoder.variables(), ...(classifier?.variables() ?? [])].map((p) => p.variable));
  return { features, split: test ? 'test' : 'validation', classes: data.dataset.classes };
}

/**
 * The report `supcon demo` writes at the end of its run: `writeRunReport` with the embeddings the
 * evaluation computed (test, or validation when `summary.testSet` is false). Returns report.html's path.
 */
export async function writeReport(
  runDir: string,
  summary: Record<string, unknown>,
  embeddings: FeatureSet,
  classes: string[],
  projection: Projection = 'umap',
): Promise<string> {
  const split = summary['testSet'] === false ? 'validation' : 'test';
  return (await writeRunReport(runDir, { embeddings: { features: embeddings, split, classes }, projection }))
    .file;
}
