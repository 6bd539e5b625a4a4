/**
 * The sensitivity study's findings (Fig. 4a): every run as (loss, knob, value, seed, validation and
 * test top-1), each loss's spread of test top-1 over its runs (min–max, range, sample std), a
 * Markdown table of both and the box plot, one box per loss. The paper's claim: SupCon's box is the
 * smaller one (it is less sensitive to the recipe).
 */
import { boxPlot, png } from '@supcon/node';
import { METHOD_COLORS } from 'supcon/plot';
import { markdown, pct, type Stat, type StudyRun, stat } from './results.js';
import { ADAM_LR, BASELINE, parsePoint, RECIPE } from './sensitivity.js';
import { METHOD_LABEL, type Method } from './studies.js';

export interface SensitivityRun {
  method: Method;
  /** `baseline`: the recipe itself; else the one knob changed from it. */
  knob: string;
  value: string;
  seed: number;
  run: string;
  validationAccuracy: number;
  testAccuracy: number | null;
}

/** One loss's spread over its runs. */
export interface Spread {
  method: Method;
  runs: number;
  /** Test top-1 over the runs (null: a dataset without a test split). */
  test: (Stat & { min: number; max: number; range: number }) | null;
  validation: Stat & { min: number; max: number; range: number };
}

export interface SensitivityFindings {
  recipe: { augment: string; optimizer: string; lr: number; adamLr: number };
  runs: SensitivityRun[];
  spread: Spread[];
}

const RECIPE_TEXT = `${RECIPE.augment}, ${RECIPE.optimizer}, lr ${RECIPE.lr}`;

function spreadOf(values: number[]) {
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { ...stat(values), min, max, range: max - min };
}

export function sensitivityFindings(records: readonly StudyRun[]): SensitivityFindings {
  const runs = records.map((r): SensitivityRun => {
    const p = parsePoint(r.x);
    return {
      method: r.method,
      knob: p?.knob ?? BASELINE,
      value: p?.value ?? RECIPE_TEXT,
      seed: r.seed,
      run: r.run,
      validationAccuracy: r.validationAccuracy,
      testAccuracy: r.testAccuracy,
    };
  });
  const methods = [...new Set(runs.map((r) => r.method))];
  const spread = methods.map((method): Spread => {
    const of = runs.filter((r) => r.method === method);
    const test = of.map((r) => r.testAccuracy);
    return {
      method,
      runs: of.length,
      test: test.every((t) => t !== null) ? spreadOf(test as number[]) : null,
      validation: spreadOf(of.map((r) => r.validationAccuracy)),
    };
  });
  return { recipe: { ...RECIPE, adamLr: ADAM_LR }, runs, spread };
}

const LR_FACTOR = (v: string) => {
  const f = Number(v) / RECIPE.lr;
  return f === 0.5 ? '½×' : `${Number(f.toPrecision(3))}×`;
};

/** What a run changed, for the table: `optimizer adam (lr 0.001)`, `lr 0.05 (½×)`. */
function changeLabel(r: SensitivityRun): string {
  if (r.knob === BASELINE) return `none: the recipe (${r.value})`;
  if (r.knob === 'optimizer' && r.value === 'adam') return `optimizer adam (lr ${ADAM_LR}, Adam's own)`;
  if (r.knob === 'lr') return `lr ${r.value} (${LR_FACTOR(r.value)})`;
  return `${r.knob} ${r.value}`;
}

/** The runs (one row per change and seed, a column pair per loss), then each loss's spread. */
export function sensitivityTable(f: SensitivityFindings): string {
  const methods = f.spread.map((s) => s.method);
  const keys = [...new Set(f.runs.map((r) => `${r.knob}=${r.value}\u0000${r.seed}`))];
  const rows = keys.map((key) => {
    const of = f.runs.filter((r) => `${r.knob}=${r.value}\u0000${r.seed}` === key);
    const first = of[0]!;
    return [
      changeLabel(first),
      String(first.seed),
      ...methods.flatMap((m) => {
        const r = of.find((x) => x.method === m);
        return r === undefined
          ? ['', '']
          : [r.testAccuracy === null ? 'n/a' : pct(r.testAccuracy), pct(r.validationAccuracy)];
      }),
    ];
  });
  const runs = markdown(
    [
      'change from the recipe',
      'seed',
      ...methods.flatMap((m) => [`${METHOD_LABEL[m]} test top-1`, `${METHOD_LABEL[m]} validation`]),
    ],
    rows,
  );
  const range = (s: { min: number; max: number; range: number }) =>
    `${pct(s.min)}–${pct(s.max)} (${pct(s.range)})`;
  const spread = markdown(
    [
      'loss (linear probe)',
      'runs',
      'test top-1 min–max (range)',
      'test top-1 std',
      'test top-1 mean',
      'validation min–max (range)',
    ],
    f.spread.map((s) => [
      METHOD_LABEL[s.method],
      String(s.runs),
      s.test ? `**${range(s.test)}**` : 'n/a',
      s.test && s.test.std !== null ? pct(s.test.std) : 'n/a',
      s.test ? pct(s.test.mean) : 'n/a',
      range(s.validation),
    ]),
  );
  return `${runs}\n\n${spread}`;
}

/** The box plot: one box per loss of the test top-1 of its runs (validation where there is no test split). */
export async function sensitivityFigure(f: SensitivityFindings, file: string): Promise<void> {
  const noTest = f.runs.some((r) => r.testAccuracy === null);
  const boxes = f.spread.map((s) => ({
    label: METHOD_LABEL[s.method],
    values: f.runs
      .filter((r) => r.method === s.method)
      .map((r) => 100 * (noTest ? r.validationAccuracy : r.testAccuracy!)),
    color: METHOD_COLORS[s.method] ?? '#1f77b4',
  }));
  await png(
    boxPlot(
      `Sensitivity: ${noTest ? 'validation' : 'test'} top-1 of runs changing one knob of the recipe`,
      `${noTest ? 'validation' : 'test'} top-1 %`,
      boxes,
    ),
    file,
  );
}
