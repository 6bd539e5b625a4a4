/** `supcon data inspect`: what a dataset holds, as one plain object. */
import { type Dataset, type LoadDatasetOptions, loadDataset } from './datasets.js';
import { countPerClass, type ImageSet } from './image-set.js';
import { type ValidationSplitOptions, validationIndices } from './split.js';

export interface SplitSummary {
  samples: number;
  /** Samples of each class, in class order. */
  perClass: number[];
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

function summarise(labels: Int32Array, classes: number): SplitSummary {
  return { samples: labels.length, perClass: countPerClass(labels, classes) };
}

/** Summary of a loaded dataset; with `validation`, the train split is shown after carving it out. */
export function summariseDataset(dataset: Dataset, validation?: ValidationSplitOptions): DatasetSummary {
  const k = dataset.classes.length;
  const t: ImageSet = dataset.train;
  const splits: DatasetSummary['splits'] = { train: summarise(t.labels, k) };
  if (validation) {
    const idx = validationIndices(t.labels, validation);
    splits.train = summarise(
      Int32Array.from(idx.train, (i) => t.labels[i]!),
      k,
    );
    splits.validation = summarise(
      Int32Array.from(idx.validation, (i) => t.labels[i]!),
      k,
    );
  }
  if (dataset.test) splits.test = summarise(dataset.test.labels, k);
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
