/**
 * The run folders under the dashboard's root, read-only: discovery, one-line summaries for the runs
 * table, metrics, robustness tables and sweeps. Every path taken from a request goes through
 * `resolveInside`, which refuses anything that would leave the root (`..`, absolute paths, symlinks
 * pointing out).
 */
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { isRunFolder, knnTestTop1, parseMetrics as parseMetricsLog, runFiles } from '@supcon/node';
import { EXIT_FAILED, EXIT_USAGE, UserError } from 'supcon';
import type { MetricRecord, RunRow } from '../web/api.js';

export type { MetricRecord, RunRow } from '../web/api.js';

/** config.json's encoder by its CLI name: `{ kind, depth }` (resnet18/34/50) or, in older files, the name itself. */
function encoderName(encoder: unknown): string | undefined {
  if (typeof encoder === 'string') return encoder;
  if (typeof encoder !== 'object' || encoder === null) return undefined;
  const { kind, depth } = encoder as { kind?: unknown; depth?: unknown };
  if (kind === 'resnet' && typeof depth === 'number') return `resnet${depth}`;
  return typeof kind === 'string' ? kind : undefined;
}

/**
 * A request the dashboard cannot serve: a path that is not a run (or sweep) inside the root, a
 * missing parameter, a dataset that is not here. The server answers with `status`; as a UserError its
 * exit code follows the CLI's policy: 2 (`EXIT_USAGE`) for a request malformed or refused as written
 * (400, 403), 1 (`EXIT_FAILED`) for one understood whose run or dataset is not there (404).
 */
export class NotFoundError extends UserError {
  constructor(
    message: string,
    readonly status: 400 | 403 | 404 = 404,
  ) {
    super(message, status === 404 ? EXIT_FAILED : EXIT_USAGE);
    this.name = 'NotFoundError';
  }
}

/** How deep below the root run folders are looked for (sweeps put runs at DIR/sweep/NAME=VALUE). */
const MAX_DEPTH = 3;
/** A run whose metrics.jsonl changed this recently counts as training. */
const LIVE_MS = 30_000;

/**
 * `id` (a slash-separated path relative to `root`) resolved to an absolute folder inside `root`,
 * following symlinks; throws NotFoundError (403) when it would escape.
 */
export function resolveInside(root: string, id: string): string {
  if (id.includes('\0') || isAbsolute(id) || id.includes('\\'))
    throw new NotFoundError(`Invalid run id ${JSON.stringify(id)}: expected a relative path.`, 400);
  const base = realpathSync(root);
  const target = resolve(base, id);
  const inside = (p: string) => {
    const r = relative(base, p);
    return r === '' || (!r.startsWith('..') && !isAbsolute(r));
  };
  if (!inside(target)) throw new NotFoundError(`Run id ${JSON.stringify(id)} leaves the runs folder.`, 403);
  if (!existsSync(target)) throw new NotFoundError(`No run ${JSON.stringify(id)} in the runs folder.`);
  const real = realpathSync(target);
  if (!inside(real)) throw new NotFoundError(`Run id ${JSON.stringify(id)} leaves the runs folder.`, 403);
  return real;
}

function readJson(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

const isRun = isRunFolder;

/** Folders (relative ids, `/`-separated) under `root` holding a file for which `test` is true. */
function findFolders(root: string, test: (dir: string) => boolean): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    if (test(dir)) found.push(relative(root, dir).split(sep).join('/'));
    if (depth >= MAX_DEPTH) return;
    for (const name of names) {
      if (name.startsWith('.') || name === 'node_modules') continue;
      const path = join(dir, name);
      try {
        // Symlinked folders are not followed: they may point out of the root.
        if (lstatSync(path).isDirectory()) walk(path, depth + 1);
      } catch {
        // vanished or unreadable entries are not runs
      }
    }
  };
  if (existsSync(root)) walk(resolve(root), 0);
  return found;
}

/** Complete JSON lines of `text` (a torn last line, as a killed writer leaves, is skipped). */
export function parseMetrics(text: string): MetricRecord[] {
  return parseMetricsLog(text) as MetricRecord[];
}

function findLast<T>(xs: T[], test: (x: T) => boolean): T | undefined {
  for (let i = xs.length - 1; i >= 0; i--) if (test(xs[i]!)) return xs[i];
  return undefined;
}

function num(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

function str(x: unknown): string | undefined {
  return typeof x === 'string' ? x : undefined;
}

/** Drops undefined fields (exactOptionalPropertyTypes: optional means absent). */
function defined<T>(o: { [K in keyof T]: T[K] | undefined }): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export function runRow(root: string, id: string, now = Date.now()): RunRow {
  const dir = resolveInside(root, id);
  const files = runFiles(dir);
  const config = readJson(files.config) ?? {};
  const summary = readJson(files.summary) ?? {};
  const train = (config['train'] ?? {}) as Record<string, unknown>;
  const model = (config['model'] ?? {}) as Record<string, unknown>;
  const data = (config['data'] ?? {}) as Record<string, unknown>;
  const metricsFile = files.metrics;
  const records = existsSync(metricsFile) ? parseMetrics(readFileSync(metricsFile, 'utf8')) : [];
  const lastStep = findLast(records, (r) => r.type === 'step');
  const epochs = records.filter((r) => r.type === 'epoch');
  const lastKnn = findLast(epochs, (r) => typeof r.knnAccuracy === 'number');
  const mtime = existsSync(metricsFile) ? statSync(metricsFile).mtimeMs : statSync(dir).mtimeMs;
  const totalEpochs = num(train['epochs']);
  const testAccuracy = num(summary['testAccuracy']);
  const knnTest = knnTestTop1(summary);
  const method = str(train['method']) ?? str(summary['method']);
  const hasConfig = Object.keys(config).length > 0;
  let status: RunRow['status'];
  if (testAccuracy !== undefined) status = 'evaluated';
  else if (records.length === 0) status = 'empty';
  else if (now - mtime < LIVE_MS) status = 'training';
  else status = totalEpochs !== undefined && epochs.length >= totalEpochs ? 'trained' : 'stopped';
  return defined<RunRow>({
    id,
    method,
    dataset: str(data['dataset']) ?? str(summary['dataset']),
    encoder: encoderName(model['encoder']) ?? str(summary['encoder']),
    epochs: totalEpochs,
    batchSize: num(train['batchSize']),
    lr: num(train['lr']),
    temperature: method === 'ce' ? undefined : num(train['temperature']),
    precision: str(summary['precision']) ?? str(config['precision']) ?? (hasConfig ? 'fp32' : undefined),
    status,
    epochsDone: epochs.length,
    iterations: lastStep ? lastStep.iteration + 1 : 0,
    latestLoss: lastStep?.loss,
    knnAccuracy: lastKnn?.knnAccuracy,
    validationAccuracy: num(summary['validationAccuracy']),
    testAccuracy,
    knnTestAccuracy: knnTest?.top1,
    knnTestK: knnTest?.k,
    knnTestBank: knnTest?.bank,
    meanCorruptionError: num(summary['meanCorruptionError']),
    mCE: num(summary['mCE']),
    mCEBaseline: typeof summary['mCEBaseline'] === 'string' ? summary['mCEBaseline'] : undefined,
    hasRobustness: existsSync(files.robustness),
    updated: new Date(mtime).toISOString(),
  });
}

/** Every run folder under `root`, as table rows. */
export function listRuns(root: string): RunRow[] {
  return findFolders(root, isRun).map((id) => runRow(root, id));
}

/** A run's config, summary and robustness table (each absent when its file is). */
export function runDetail(root: string, id: string): Record<string, unknown> {
  const files = runFiles(runDir(root, id));
  return defined<Record<string, unknown>>({
    id,
    config: readJson(files.config),
    summary: readJson(files.summary),
    robustness: readJson(files.robustness),
  });
}

/** The folder of run `id`, or NotFoundError when it is not a run inside the root. */
export function runDir(root: string, id: string): string {
  const dir = resolveInside(root, id);
  if (!statSync(dir).isDirectory() || !isRun(dir))
    throw new NotFoundError(`No run ${JSON.stringify(id)} in the runs folder.`);
  return dir;
}

/** A run's metrics records and the byte length they were read from (where a live tail continues). */
export function runMetrics(root: string, id: string): { records: MetricRecord[]; bytes: number } {
  const file = runFiles(runDir(root, id)).metrics;
  if (!existsSync(file)) return { records: [], bytes: 0 };
  const buf = readFileSync(file);
  // Only complete lines: the tail continues from the end of the last one.
  const end = buf.lastIndexOf(10) + 1;
  return { records: parseMetrics(buf.subarray(0, end).toString('utf8')), bytes: end };
}

/** Every sweep.json under `root` with the id of its folder. */
export function listSweeps(root: string): Record<string, unknown>[] {
  return findFolders(root, (dir) => existsSync(join(dir, 'sweep.json'))).flatMap((id) => {
    const sweep = readJson(join(resolveInside(root, id), 'sweep.json'));
    return sweep ? [{ id, ...sweep }] : [];
  });
}
