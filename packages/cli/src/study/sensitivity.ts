/**
 * The paper's Fig. 4a as a study: how much each loss's top-1 moves when exactly one knob of its
 * recipe changes. The recipe is `supcon train`'s default (fashion-quick: light augmentation, SGD,
 * lr 0.1, the same for both losses); the knobs and the values each point takes:
 *   augment   supcon, randaugment, autoaugment   (the recipe: light, crop 0.6–1 + flip)
 *   optimizer lars, adam                         (the recipe: sgd with momentum 0.9)
 *   lr        ½× and 2× the recipe's             (the recipe: 1×)
 * A study value is one such change, `KNOB=VALUE`. The recipe itself is the 1× / light / sgd point of
 * every knob: one run, trained once, kept in the augment sweep (OUT/sensitivity-M-augment/augment=light).
 *
 * Adam gets its own learning rate, Adam's usual 0.001 (Kingma & Ba's, torch.optim.Adam's default):
 * its step is about lr per weight whatever the gradient's scale, so SGD's 0.1 would throw the weights
 * around, and the point would measure a wrong learning rate rather than the optimiser. LARS keeps the
 * recipe's: the SupCon and SimCLR references give SGD and LARS learning rates of the same scale. The
 * Adam run is its own sweep, `sensitivity-M-adam/lr=0.001` (`--optimizer adam`, varying lr), so every
 * run stays one `supcon sweep` call.
 */
import { presetSpec, type AUGMENTS as RUN_AUGMENTS } from '@supcon/node';
import { OPTIMIZERS } from 'supcon';
import type { Method, Study, SweepDef } from './studies.js';

const preset = presetSpec('fashion-quick');
/** The recipe's value of every knob. */
export const RECIPE = {
  augment: preset.data.augment,
  optimizer: preset.train.optimizer.kind,
  lr: preset.train.lr,
} as const;
export const KNOBS = ['augment', 'optimizer', 'lr'] as const;
export type Knob = (typeof KNOBS)[number];
/** The x value of the recipe's own run. */
export const BASELINE = 'baseline';
/** Adam's learning rate: Adam's usual (see above). */
export const ADAM_LR = 0.001;

/** The training augmentations of `supcon train --augment` other than the recipe's and `none`. */
const AUGMENTS: readonly (typeof RUN_AUGMENTS)[number][] = ['supcon', 'randaugment', 'autoaugment'];
const METHODS: readonly Method[] = ['supcon', 'ce'];

/** `KNOB=VALUE` split, or undefined. */
export function parsePoint(point: string): { knob: Knob; value: string } | undefined {
  const eq = point.indexOf('=');
  const knob = point.slice(0, eq) as Knob;
  return eq > 0 && KNOBS.includes(knob) ? { knob, value: point.slice(eq + 1) } : undefined;
}

/** A change of one knob from the recipe that `supcon train` can run. */
function accepts(point: string): boolean {
  const p = parsePoint(point);
  if (p === undefined) return false;
  if (p.knob === 'augment') return (AUGMENTS as readonly string[]).includes(p.value);
  if (p.knob === 'optimizer')
    return p.value !== RECIPE.optimizer && (OPTIMIZERS as readonly string[]).includes(p.value);
  const lr = Number(p.value);
  return p.value.trim() !== '' && Number.isFinite(lr) && lr > 0 && lr !== RECIPE.lr;
}

/** The sweeps of one loss: the augment sweep (with the recipe's run), LARS and others, Adam, the learning rates. */
function sweepsOf(method: Method, flags: string[], points: readonly string[]): SweepDef[] {
  const of = (knob: Knob) =>
    points.flatMap((p) => (parsePoint(p)?.knob === knob ? [parsePoint(p)!.value] : []));
  const name = `sensitivity-${method}`;
  const optimizers = of('optimizer').filter((o) => o !== 'adam');
  const lrs = of('lr');
  return [
    {
      name: `${name}-augment`,
      method,
      flags,
      vary: 'augment',
      values: [RECIPE.augment, ...of('augment')],
      point: (v) => (v === RECIPE.augment ? BASELINE : `augment=${v}`),
    },
    ...(optimizers.length > 0
      ? [
          {
            name: `${name}-optimizer`,
            method,
            flags,
            vary: 'optimizer',
            values: optimizers,
            point: (v: string) => `optimizer=${v}`,
          },
        ]
      : []),
    ...(of('optimizer').includes('adam')
      ? [
          {
            name: `${name}-adam`,
            method,
            flags: [...flags, '--optimizer', 'adam'],
            vary: 'lr',
            values: [String(ADAM_LR)],
            point: () => 'optimizer=adam',
          },
        ]
      : []),
    ...(lrs.length > 0
      ? [{ name: `${name}-lr`, method, flags, vary: 'lr', values: lrs, point: (v: string) => `lr=${v}` }]
      : []),
  ];
}

/** The study, on the recipe flags of `recipe` (studies.ts's, passed in so this module imports it as a type only). */
export function sensitivityStudy(recipe: (method: Method) => string[]): Study {
  return {
    summary:
      "the paper's Fig. 4a: spread of top-1 over runs that each change one knob (augmentation, optimiser, learning rate) of the recipe, SupCon and cross-entropy",
    xLabel: 'change from the recipe',
    values: [
      ...AUGMENTS.map((a) => `augment=${a}`),
      'optimizer=lars',
      'optimizer=adam',
      `lr=${RECIPE.lr / 2}`,
      `lr=${RECIPE.lr * 2}`,
    ],
    expected: `a comma list of changes from the recipe, KNOB=VALUE: augment=${AUGMENTS.join('|')}, optimizer=${OPTIMIZERS.filter((o) => o !== RECIPE.optimizer).join('|')}, lr=X (X > 0, not the recipe's ${RECIPE.lr})`,
    accepts,
    seeds: [0],
    sweeps: (values) => METHODS.flatMap((m) => sweepsOf(m, recipe(m), values)),
    sensitivity: true,
    sets: ['--method', '--precision', '--seed', '--augment', '--optimizer', '--lr'],
  };
}
