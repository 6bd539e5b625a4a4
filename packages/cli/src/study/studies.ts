/**
 * The studies of docs/findings.md as data, the one home of which `supcon sweep` calls make each
 * finding: a study is a list of sweeps, a sweep a folder under OUT, a method and the train flags of
 * its runs. The flags are the ones the chunks in docs/findings.md ran (`--method M --precision bf16`
 * on the default `fashion-quick` preset, plus the varied knob), so a study pointed at those run
 * folders finds them finished.
 *
 * Two shapes of sweep, as the chunks ran them:
 * - `vary: 'seed'`: one sweep per point of the figure (a method, an epoch count), its runs the seeds:
 *   OUT/table2-supcon/seed=1, OUT/epochs30-ce/seed=2, ...
 * - a knob (`temperature`, `batch-size`): one sweep per seed, its runs the knob's values:
 *   OUT/temperature/temperature=0.1 for the default seed 0 (what `supcon train` uses without
 *   `--seed`, and what the temperature and batch-size chunks ran), OUT/temperature-seed1/... for
 *   seed 1 (with `--seed 1`).
 */
import { isAbsolute, join } from 'node:path';
import { check } from 'supcon';
import { sensitivityStudy } from './sensitivity.js';

export type Method = 'supcon' | 'ce' | 'simclr';
export const METHODS: readonly Method[] = ['supcon', 'ce', 'simclr'];
export const METHOD_LABEL: Record<Method, string> = {
  supcon: 'SupCon',
  ce: 'cross-entropy',
  simclr: 'SimCLR',
};

/** The recipe of every finding: `supcon train`'s default (fashion-quick) preset, in bf16. */
const recipe = (method: Method): string[] => ['--method', method, '--precision', 'bf16'];

/** One sweep of a study before the seeds are known. */
export interface SweepDef {
  /** Its folder under OUT (for a knob sweep, the folder of the default seed; others add `-seedS`). */
  name: string;
  method: Method;
  /** Train flags of every run (before the study's extra flags). */
  flags: string[];
  /** `seed`, or the train flag (a sweep variable) whose values are the figure's x values. */
  vary: string;
  /** For a seed sweep: the x value of the figure it stands at. */
  x?: string;
  /** For a knob sweep: its own values, instead of the study's (sensitivity: each knob its own). */
  values?: readonly string[];
  /** For a knob sweep: the x value a run stands at, from its value (default: the value itself). */
  point?: (value: string) => string;
}

export interface Study {
  /** One line: the paper's claim and figure it regenerates. */
  summary: string;
  /** The figure's x axis (or the table's first column). */
  xLabel: string;
  /** The x values: methods (table2, robustness), epochs, temperatures, batch sizes. */
  values: readonly string[];
  /** Whether `--values` may change them (robustness compares SupCon with cross-entropy, nothing else). */
  fixedValues?: true;
  /** What a value must be, for the one-sentence refusal; and the check. */
  expected: string;
  accepts(value: string): boolean;
  seeds: readonly number[];
  /** The sweeps at these x values. */
  sweeps(values: readonly string[]): SweepDef[];
  /** `supcon robustness` on the SupCon runs with `--baseline` the cross-entropy run of the same seed. */
  robustness?: true;
  /** The sensitivity box plot's findings (study/sensitivity-results.ts) instead of the accuracy table and figure. */
  sensitivity?: true;
  /** Flags the study sets itself, refused after `--`. */
  sets: readonly string[];
}

/** Table 2's run of one method: 10 epochs (the preset's), the seeds in OUT/table2-METHOD/seed=S. */
const table2Sweep = (method: Method, x: string = method): SweepDef => ({
  name: `table2-${method}`,
  method,
  flags: recipe(method),
  vary: 'seed',
  x,
});

const isMethod = (v: string) => (METHODS as readonly string[]).includes(v);
const positive = (v: string) => /^\d+$/.test(v) && Number(v) > 0;
const positiveNumber = (v: string) => v.trim() !== '' && Number.isFinite(Number(v)) && Number(v) > 0;
/** The preset's epochs: its runs are Table 2's, shared rather than trained twice. */
const PRESET_EPOCHS = '10';

/**
 * The recipe study's arms, each one change from the baseline (the recipe above, Table 2's SupCon
 * runs, shared): `balanced`, 32 images of each of 8 classes in every batch of 256 (the balanced
 * sampler needs a divisor of the batch with batch/m ≤ 10 classes: 32 is the one that keeps most
 * classes in a batch); `joint-probe`, the stop-gradient linear head trained with the encoder, whose
 * own top-1 is the arm's result (its encoder is the baseline's: the head does not change the
 * encoder's gradient), against the baseline's separately fitted probe; `moco`, a memory queue of
 * 4,096 keys filled by a momentum encoder (EMA 0.99, MoCo's key encoder; the paper's best
 * small-batch result used one).
 */
export const RECIPE_ARMS = ['baseline', 'balanced', 'joint-probe', 'moco'] as const;
export const BALANCED_SAMPLES_PER_CLASS = '32';
export const MOCO_QUEUE = { size: '4096', momentum: '0.99' } as const;

const RECIPE_ARM_FLAGS: Record<Exclude<(typeof RECIPE_ARMS)[number], 'baseline'>, string[]> = {
  balanced: ['--sampler', 'balanced', '--samples-per-class', BALANCED_SAMPLES_PER_CLASS],
  'joint-probe': ['--joint-probe'],
  moco: ['--queue-size', MOCO_QUEUE.size, '--queue-momentum', MOCO_QUEUE.momentum],
};

function recipeSweep(arm: string): SweepDef {
  if (arm === 'baseline') return table2Sweep('supcon', 'baseline');
  const flags = RECIPE_ARM_FLAGS[arm as keyof typeof RECIPE_ARM_FLAGS];
  return {
    name: `recipe-${arm}`,
    method: 'supcon',
    flags: [...recipe('supcon'), ...flags],
    vary: 'seed',
    x: arm,
  };
}

/**
 * The ViT study (issue 13; the paper's ViT rows): SupCon against cross-entropy on the `vit-mini` ViT
 * with a transformer recipe instead of the ResNet one: AdamW (lr 1e-3 at batch 256, weight decay
 * 0.05, norms, biases and embeddings left out), linear warm-up for half an epoch then cosine, the
 * gradients clipped to global norm 1, RandAugment (the light crop and flip, then 2 operations at bin
 * 9), and label smoothing 0.1 for cross-entropy (its classifier is what it smooths; SupCon has none).
 * Both methods train the same 5 epochs: a SupCon run takes 3–6 minutes on 2 cores (0.18 s a step at
 * 256 × 2 views when little else runs), a cross-entropy run (one view) about 1.5. At 1 epoch the two
 * probes tie at ~76 % (docs/findings.md); `-- --epochs N` trains longer (in other run folders, or in
 * these with `--rerun-stale`).
 */
export const VIT_EPOCHS = '5';
const vitRecipe = (method: Method): string[] => [
  ...recipe(method),
  ...['--encoder', 'vit-mini', '--epochs', VIT_EPOCHS],
  ...['--optimizer', 'adam', '--decoupled', '--lr', '0.001', '--weight-decay', '0.05'],
  ...['--warmup-epochs', '0.5', '--decay', 'cosine', '--clip-grad-norm', '1', '--augment', 'randaugment'],
  ...(method === 'ce' ? ['--label-smoothing', '0.1'] : []),
];

/**
 * The demo study (issue 10: the best SupCon recipe that trains in 600 s on 2 cores): candidate arms,
 * each a change of the fashion-quick recipe, in fp32 (what `supcon demo` trains without
 * `--precision bf16`). A 25-epoch run at width 16 is the most of it that fits the time; width 24
 * (features 96) at 15 epochs and width 32 at 12 trade epochs for a wider encoder (width 32 does not
 * fit: 60 s an epoch); `w24-e30-v1` trains one view per image (label positives only) for twice the
 * epochs in the same time. `w24-e15` is the fashion-demo preset (node's FASHION_DEMO; three seeds:
 * 92.52 ± 0.17, validation 92.93, a whole demo 582 s); `w24-e30-v1` is ahead on validation (three
 * seeds: 92.76 ± 0.09, validation 93.43) but a whole demo with it took 616 s, over the 600 s budget.
 */
export const DEMO_ARMS: Record<string, string[]> = {
  'w16-e25': ['--epochs', '25', '--lr', '0.2'],
  'w16-e25-lr0.4': ['--epochs', '25', '--lr', '0.4'],
  'w24-e15': ['--width', '24', '--lr', '0.2', '--epochs', '15'],
  'w32-e12': ['--width', '32', '--lr', '0.2', '--epochs', '12'],
  'w24-e30-v1': ['--width', '24', '--lr', '0.2', '--epochs', '30', '--views', '1'],
};
const DEMO_ARM_NAMES = Object.keys(DEMO_ARMS);

/** The x axis of the studies that compare SupCon with cross-entropy, three seeds each. */
const SUPCON_AND_CE = {
  xLabel: 'method',
  values: ['supcon', 'ce'],
  fixedValues: true,
  expected: 'supcon,ce',
  accepts: (v: string) => v === 'supcon' || v === 'ce',
  seeds: [1, 2, 3],
} satisfies Partial<Study>;

export const STUDIES: Record<string, Study> = {
  table2: {
    summary:
      "the paper's Table 2: SupCon vs cross-entropy vs SimCLR, linear probe (and cross-entropy's own classifier)",
    xLabel: 'method',
    values: METHODS,
    expected: `a comma list of methods (${METHODS.join(', ')})`,
    accepts: isMethod,
    seeds: [1, 2, 3],
    sweeps: (values) => values.map((m) => table2Sweep(m as Method)),
    sets: ['--method', '--precision', '--seed'],
  },
  robustness: {
    summary:
      "the paper's Fig. 3: Table 2's SupCon and cross-entropy runs under corruptions; mCE relative to cross-entropy of the same seed, top-1 and ECE per severity",
    ...SUPCON_AND_CE,
    sweeps: (values) => values.map((m) => table2Sweep(m as Method)),
    robustness: true,
    sets: ['--method', '--precision', '--seed'],
  },
  temperature: {
    summary: "the paper's Fig. 4d: SupCon's linear-probe top-1 against the temperature τ",
    xLabel: 'temperature τ',
    values: ['0.03', '0.05', '0.07', '0.1', '0.2', '0.5', '1.0'],
    expected: 'a comma list of temperatures > 0',
    accepts: positiveNumber,
    seeds: [0],
    sweeps: () => [{ name: 'temperature', method: 'supcon', flags: recipe('supcon'), vary: 'temperature' }],
    sets: ['--method', '--precision', '--seed', '--temperature'],
  },
  'batch-size': {
    summary: "the paper's Fig. 4b: top-1 against the batch size, SupCon and cross-entropy",
    xLabel: 'batch size',
    values: ['64', '128', '256', '512', '1024'],
    expected: 'a comma list of batch sizes (integers > 0)',
    accepts: positive,
    seeds: [0],
    sweeps: () =>
      (['supcon', 'ce'] as const).map((m) => ({
        name: `batch-${m}`,
        method: m,
        flags: recipe(m),
        vary: 'batch-size',
      })),
    sets: ['--method', '--precision', '--seed', '--batch-size'],
  },
  epochs: {
    summary: "the paper's Fig. 4c: top-1 against pre-training epochs, SupCon and cross-entropy, with seconds",
    xLabel: 'pre-training epochs',
    values: [PRESET_EPOCHS, '30'],
    expected: 'a comma list of epoch counts (integers > 0)',
    accepts: positive,
    seeds: [1, 2, 3],
    sweeps: (values) =>
      values.flatMap((e) =>
        (['supcon', 'ce'] as const).map((m) =>
          e === PRESET_EPOCHS
            ? table2Sweep(m, e)
            : {
                name: `epochs${e}-${m}`,
                method: m,
                flags: [...recipe(m), '--epochs', e],
                vary: 'seed',
                x: e,
              },
        ),
      ),
    sets: ['--method', '--precision', '--seed', '--epochs'],
  },
  randaugment: {
    summary: "the paper's Fig. 7: top-1 against RandAugment's magnitude, SupCon and cross-entropy",
    xLabel: 'RandAugment magnitude',
    // Bins of torchvision's 31 (0–30, bin 0 leaving every operation with a magnitude as it is), every
    // 3 bins around its default 9: from mild to half the range (at 15, shifts of up to 6 pixels and
    // rotations of 15° on a 28×28 image), where the curve has room to fall on either side of 9.
    values: ['3', '6', '9', '12', '15'],
    expected: 'a comma list of magnitude bins (integers from 0 to 30)',
    accepts: (v) => /^\d+$/.test(v) && Number(v) <= 30,
    seeds: [0],
    sweeps: () =>
      (['supcon', 'ce'] as const).map((m) => ({
        name: `randaugment-${m}`,
        method: m,
        flags: [...recipe(m), '--augment', 'randaugment'],
        vary: 'randaugment-magnitude',
      })),
    sets: ['--method', '--precision', '--seed', '--augment', '--randaugment-magnitude'],
  },
  sensitivity: sensitivityStudy(recipe),
  recipe: {
    summary:
      "recipe A/B on SupCon: the baseline (Table 2's runs), the class-balanced sampler, the joint probe's own top-1, a momentum-encoder queue",
    xLabel: 'recipe',
    values: RECIPE_ARMS,
    expected: `a comma list of arms (${RECIPE_ARMS.join(', ')})`,
    accepts: (v) => (RECIPE_ARMS as readonly string[]).includes(v),
    seeds: [1, 2, 3],
    sweeps: (values) => values.map(recipeSweep),
    sets: [
      '--method',
      '--precision',
      '--seed',
      '--sampler',
      '--samples-per-class',
      '--joint-probe',
      '--queue-size',
      '--queue-momentum',
    ],
  },
  demo: {
    summary:
      "the demo's recipe: SupCon arms that train in about 600 s on 2 cores (fp32), linear probe; the winner's seeds",
    xLabel: 'recipe',
    values: DEMO_ARM_NAMES,
    expected: `a comma list of arms (${DEMO_ARM_NAMES.join(', ')})`,
    accepts: (v) => DEMO_ARM_NAMES.includes(v),
    seeds: [0],
    sweeps: (values) =>
      values.map((arm) => ({
        name: `demo-${arm}`,
        method: 'supcon' as const,
        flags: ['--method', 'supcon', ...DEMO_ARMS[arm]!],
        vary: 'seed',
        x: arm,
      })),
    sets: ['--method', '--precision', '--seed', '--width', '--lr', '--epochs', '--views'],
  },
  vit: {
    summary:
      "the ViT comparison: SupCon vs cross-entropy on vit-mini (AdamW, warm-up + cosine, clipping, RandAugment, label smoothing for CE), linear probe and CE's own classifier",
    ...SUPCON_AND_CE,
    sweeps: (values) =>
      values.map((m) => ({
        name: `vit-${m}`,
        method: m as Method,
        flags: vitRecipe(m as Method),
        vary: 'seed',
        x: m,
      })),
    sets: [
      ...['--method', '--precision', '--seed', '--encoder', '--optimizer', '--decoupled'],
      ...['--clip-grad-norm', '--label-smoothing', '--augment'],
    ],
  },
};

export const STUDY_NAMES = Object.keys(STUDIES);

/** The study called `name`, or the one-sentence refusal naming the known ones. */
export function studyNamed(name: string | undefined): Study {
  const study = name === undefined ? undefined : STUDIES[name];
  check(study !== undefined, 'NAME', `one of ${STUDY_NAMES.join(', ')}`, name);
  return study;
}

/** One sweep of a study with its seed(s) fixed: what one `supcon sweep` call runs. */
export interface PlannedSweepCall {
  def: SweepDef;
  /** The sweep folder, under OUT. */
  dir: string;
  vary: string;
  values: string[];
  trainFlags: string[];
  /** For a knob sweep: its seed. */
  seed?: number;
}

/**
 * The sweep calls of `study` at `values` and `seeds`, with `extra` train flags appended and folders
 * under `out` (a folder of `map` replaces a sweep's name, to reuse runs kept under another name).
 */
export function sweepCalls(
  study: Study,
  values: readonly string[],
  seeds: readonly number[],
  extra: readonly string[],
  out: string,
  map: ReadonlyMap<string, string>,
): PlannedSweepCall[] {
  const folder = (name: string) => {
    const mapped = map.get(name) ?? name;
    return isAbsolute(mapped) ? mapped : join(out, mapped);
  };
  return study.sweeps(values).flatMap((def): PlannedSweepCall[] =>
    def.vary === 'seed'
      ? [
          {
            def,
            dir: folder(def.name),
            vary: 'seed',
            values: seeds.map(String),
            trainFlags: [...def.flags, ...extra],
          },
        ]
      : seeds.map((seed) => ({
          def,
          dir: seed === 0 ? folder(def.name) : `${folder(def.name)}-seed${seed}`,
          vary: def.vary,
          values: [...(def.values ?? values)],
          trainFlags: [...def.flags, ...(seed === 0 ? [] : ['--seed', String(seed)]), ...extra],
          seed,
        })),
  );
}
