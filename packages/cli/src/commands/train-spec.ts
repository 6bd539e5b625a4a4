/**
 * The run spec a `train`/`demo` command line asks for: a preset, an optional JSON config file (a
 * partial RunSpec), then the training flags, applied in that order; and for `--resume`, the stored
 * spec of the run, refused when the flags would change it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  checkSpecShape,
  DEFAULT_FOLDER_VALIDATION,
  mergeModel,
  type Preset,
  presetSpec,
  type RunOptions,
  type RunSpec,
  readResumableSpec,
  resolveRunSpec,
  specDifferences,
} from '@supcon/node';
import { InvalidArgumentError } from 'supcon';
import { type BackendChoice, precisionSetter, selectBackend } from '../backend.js';
import { CliError } from '../command.js';
import type { FlagValues } from '../flags.js';
import { applyTrainFlags, runOptionsFromFlags } from './train-flags.js';
import { cpuBackendWarning } from './train-output.js';

/** The kNN monitor's k when neither a config file nor `--knn-k` sets it (0 turns it off). */
const DEFAULT_MONITOR_K = 200;

type PartialSpec = Partial<{ [K in keyof RunSpec]: Partial<RunSpec[K]> }>;

/** A config file's partial spec, its keys and value types checked at every level. */
function readConfigFile(file: string): PartialSpec {
  if (!existsSync(file)) throw new CliError(`Config file \`${file}\` does not exist.`);
  let partial: PartialSpec;
  try {
    partial = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new CliError(`Config file \`${file}\` is not valid JSON: ${(error as Error).message}.`);
  }
  try {
    checkSpecShape(partial, { partial: true });
  } catch (error) {
    if (error instanceof InvalidArgumentError)
      throw new CliError(`Config file \`${file}\`: ${error.message}`);
    throw error;
  }
  if ((partial as { extensions?: unknown }).extensions !== undefined)
    throw new CliError(
      `Config file \`${file}\` holds \`extensions\`: the record of how a run was lengthened with \`--resume --epochs\`, which a new run cannot replay; remove the key (or continue that run with \`supcon train --out DIR --resume\`).`,
    );
  return partial;
}

/**
 * preset → config file → flags. With `base` (the stored spec of a run being resumed) the config file
 * and flags apply to it instead of a preset, so what they change can be compared with the run.
 */
export function specFromFlags(flags: FlagValues, base?: RunSpec): RunSpec {
  let spec = base ? structuredClone(base) : presetSpec(flags['preset'] as Preset);
  if (!base) spec.knnK = DEFAULT_MONITOR_K; // the per-epoch line and the --json summary show it
  const file = flags['config'] as string | undefined;
  const partial = file === undefined ? {} : readConfigFile(file);
  spec.model = mergeModel(spec.model, partial.model);
  Object.assign(spec.data, partial.data ?? {});
  Object.assign(spec.train, partial.train ?? {});
  for (const k of ['checkpointEvery', 'knnK', 'probeEpochs'] as const)
    if (partial[k] !== undefined) spec[k] = partial[k] as number;
  spec = applyTrainFlags(spec, flags);
  // A folder's size is unknown here, so its default is a fraction (docs/data.md#validation-split).
  const validationGiven = flags['validation'] !== undefined || partial.data?.validation !== undefined;
  if (!base && !validationGiven && spec.data.dataset.startsWith('folder:'))
    spec.data.validation = DEFAULT_FOLDER_VALIDATION;
  return resolveRunSpec(spec);
}

/**
 * The spec to continue for `--resume --out DIR`: the one stored in DIR (refused without a checkpoint),
 * and `epochs` when `--epochs` asks for more than recorded. Any other flag or config file that would
 * change the stored run is refused with the differences; repeating the recorded values is fine (that
 * is how `supcon sweep` resumes its runs, with every train flag).
 */
export function resumeSpec(
  argv: string[],
  flags: FlagValues,
  out: string,
): { spec: RunSpec; epochs?: number } {
  const stored = resolveRunSpec(readResumableSpec(out));
  const given = (name: string) => argv.some((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  // A preset describes a whole run: it matches when the run it gives (with the flags) is the stored one.
  const requested = given('preset') ? specFromFlags(flags) : specFromFlags(flags, stored);
  // Extensions are the run's history, not a setting a flag can ask for.
  const { extensions: _stored, ...recorded } = stored;
  const { extensions: _requested, ...asked } = requested;
  const differences = specDifferences(recorded, asked).filter((d) => !d.startsWith('train.epochs:'));
  if (differences.length > 0)
    throw new CliError(
      `Run folder \`${out}\` was trained with other settings than these flags ask for (${differences.join('; ')}); ` +
        `\`--resume\` continues the run as its config.json records it (only \`--epochs N\` may lengthen it): drop those flags, or start a new run with another --out.`,
    );
  const epochs = requested.train.epochs;
  if (epochs < stored.train.epochs)
    throw new CliError(
      `Invalid value for \`--epochs\` with \`--resume\`. Expected at least ${stored.train.epochs}, the epochs recorded in ${out}/config.json (a run can be lengthened, not shortened). Received: ${epochs}.`,
    );
  return epochs > stored.train.epochs ? { spec: stored, epochs } : { spec: stored };
}

/**
 * What `train` and `demo` settle before training: the run folder (`--out`, else
 * runs/<name>-<time>), the backend (with a warning when a convolutional encoder would run on the
 * `cpu` backend) and the run options (resume, a lengthened epoch count, the backend's precision).
 */
export async function prepareRun(
  flags: FlagValues,
  name: string,
  encoder: string,
  resume: boolean,
  epochs: number | undefined,
): Promise<{ out: string; backend: string; options: RunOptions }> {
  const out =
    (flags['out'] as string | undefined) ??
    join('runs', `${name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const backend = await selectBackend(flags['backend'] as BackendChoice, flags['json'] === true);
  const slow = cpuBackendWarning(backend, encoder);
  if (slow) console.error(slow);
  const options: RunOptions = {
    ...runOptionsFromFlags(flags),
    resume,
    ...(epochs !== undefined ? { epochs } : {}),
    applyPrecision: precisionSetter(backend),
  };
  return { out, backend, options };
}
