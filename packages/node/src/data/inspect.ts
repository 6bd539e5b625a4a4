/** `supcon data inspect`: what a dataset holds, as one plain object. */
import { type Dataset, type LoadDatasetOptions, loadDataset } from './datasets.js';
import { countPerClass, type ImageSet } from './image-set.js';
import { type ValidationSplitOptions, validationIndices } from './split.js';

export interface SplitSummary {
  samples: number;
  /** Samples of each class, in class order. */
  perClass: number[];
  /** CIFAR-100: samples of each superclass. */
  perCoarseClass?: number[];
}

export interface DatasetSummary {
  name: string;
  path: string;
  /** [height, width, channels]. */
  shape: [number, number, number];
  classes: string[];
  coarseClasses?: string[];
  splits: { train: SplitSummary; validation?: SplitSummary; test?: SplitSummary };
  mean: number[];
  std: number[];
}

function summarise(
  labels: Int32Array,
  classes: number,
  coarse?: { labels: Int32Array; classes: number },
): SplitSummary {
  const s: SplitSummary = { samples: labels.length, perClass: countPerClass(labels, classes) };
  if (coarse) s.perCoarseClass = countPerClass(coarse.labels, coarse.classes);
  return s;
}

/** Summary of a loaded dataset; with `validation`, the train split is shown after carving it out. */
export function summariseDataset(dataset: Dataset, validation?: ValidationSplitOptions): DatasetSummary {
  const k = dataset.classes.length;
  const t: ImageSet = dataset.train;
  const kc = dataset.coarseClasses?.length ?? 0;
  const coarseOf = (set: ImageSet, idx?: Int32Array) =>
    set.coarseLabels && kc > 0
      ? { labels: idx ? Int32Array.from(idx, (i) => set.coarseLabels![i]!) : set.coarseLabels, classes: kc }
      : undefined;
  const splits: DatasetSummary['splits'] = { train: summarise(t.labels, k, coarseOf(t)) };
  if (validation) {
    const idx = validationIndices(t.labels, validation);
    splits.train = summarise(
      Int32Array.from(idx.train, (i) => t.labels[i]!),
      k,
      coarseOf(t, idx.train),
    );
    splits.validation = summarise(
      Int32Array.from(idx.validation, (i) => t.labels[i]!),
      k,
      coarseOf(t, idx.validation),
    );
  }
  if (dataset.test) splits.test = summarise(dataset.test.labels, k, coarseOf(dataset.test));
  const summary: DatasetSummary = {
    name: dataset.name,
    path: dataset.path,
    shape: [t.height, t.width, t.channels],
    classes: dataset.classes,
    splits,
    mean: dataset.mean,
    std: dataset.std,
  };
  if (dataset.coarseClasses) summary.coarseClasses = dataset.coarseClasses;
  return summary;
}

export async function inspectDataset(
  spec: string,
  options: LoadDatasetOptions & { validation?: ValidationSplitOptions } = {},
): Promise<DatasetSummary> {
  const dataset = await loadDataset(spec, options);
  return summariseDataset(dataset, options.validation);
}
