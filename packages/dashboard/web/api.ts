/**
 * The JSON the dashboard's server sends and its pages read, declared once: the server builds these
 * shapes (`src/runs.ts`, `src/data.ts`) and the pages (`web/*.ts`) read them. Types only: both sides
 * import them with `import type`, so nothing from here reaches the server's or the page's code.
 */

/** One line of a run's `metrics.jsonl` (`/api/runs/metrics`, and the live stream). */
export interface MetricRecord {
  type: 'step' | 'epoch';
  epoch: number;
  iteration: number;
  loss: number;
  step?: number;
  lr?: number;
  imagesPerSecond?: number;
  seconds?: number;
  knnAccuracy?: number;
}

/** One run of the runs table (`/api/runs`): its hyperparameters, progress and results. */
export interface RunRow {
  id: string;
  /** Hyperparameters from config.json (older runs: summary.json). */
  method?: string;
  dataset?: string;
  encoder?: string;
  epochs?: number;
  batchSize?: number;
  /** Peak learning rate (`train.lr`). */
  lr?: number;
  /** τ; absent for cross-entropy, which has none. */
  temperature?: number;
  /** The compute precision in effect (summary.json), else the one asked for (config.json, default fp32). */
  precision?: string;
  status: 'training' | 'trained' | 'evaluated' | 'stopped' | 'empty';
  epochsDone: number;
  iterations: number;
  latestLoss?: number;
  knnAccuracy?: number;
  validationAccuracy?: number;
  testAccuracy?: number;
  /** kNN test top-1 from summary.json (any naming it was written with), and its k and bank if recorded. */
  knnTestAccuracy?: number;
  knnTestK?: number;
  knnTestBank?: number;
  /** Mean corruption error (absolute: mean of 1 − top-1 over corruptions and severities). */
  meanCorruptionError?: number;
  /** mCE relative to a baseline run (Σ_s E / Σ_s E_baseline, averaged over corruptions; 1 = as robust). */
  mCE?: number;
  mCEBaseline?: string;
  hasRobustness: boolean;
  updated: string;
}

/** What the server has of a dataset it serves to the train page (`/api/datasets/NAME`). */
export interface DatasetMeta {
  name: string;
  classes: string[];
  height: number;
  width: number;
  channels: number;
  mean: number[];
  std: number[];
  trainCount: number;
  testCount: number;
}
