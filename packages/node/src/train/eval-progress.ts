/**
 * Progress of a run's evaluation (`evaluateEncoder`: features of the training, validation and test
 * splits, and the probe's epochs in between) with an estimate of the time left. The two kinds of
 * work run at different rates, so each has its own, measured as it goes: images per second of the
 * encoder (all feature stages together) and seconds per probe epoch. Until the probe's first epoch
 * has run its share is unknown; the estimate then covers the images only and says so
 * (`probeCounted: false`) instead of guessing.
 */

export type EvalStage = 'train features' | 'validation features' | 'probe' | 'test features';

/** What the evaluation will do, known before it starts. */
export interface EvalPlan {
  trainImages: number;
  validationImages: number;
  testImages: number;
  /** Probe epochs over all candidate weight decays. */
  probeEpochs: number;
}

export interface EvalProgress {
  stage: EvalStage;
  /** Of this stage: images for the feature stages, epochs (over all decays) for the probe. */
  done: number;
  total: number;
  unit: 'images' | 'epochs';
  elapsedSeconds: number;
  /** Estimated seconds left for everything planned; undefined until the encoder's rate is measured. */
  secondsLeft: number | undefined;
  /** False while the probe's epochs are left but none has run yet (then not in `secondsLeft`). */
  probeCounted: boolean;
  /** Share of the estimated whole done, 0..1 (images only while the probe is not counted). */
  fraction: number;
}

const IMAGE_STAGES: EvalStage[] = ['train features', 'validation features', 'test features'];

/**
 * Turns (stage, done) updates into EvalProgress; `now` gives milliseconds (injectable for tests).
 *
 * @example
 *   const t = new EvalProgressTracker({ trainImages: 1000, validationImages: 100, testImages: 200, probeEpochs: 30 });
 *   t.update('train features', 500).secondsLeft; // from the images per second so far
 */
export class EvalProgressTracker {
  private readonly started: number;
  private stage: EvalStage | undefined;
  private stageStarted = 0;
  private stageDone = 0;
  private last: number;
  /** Finished stages: units and seconds per kind. */
  private readonly finished = { images: { units: 0, seconds: 0 }, epochs: { units: 0, seconds: 0 } };

  constructor(
    private readonly plan: EvalPlan,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.started = now();
    this.last = this.started;
  }

  update(stage: EvalStage, done: number): EvalProgress {
    const t = this.now();
    if (stage !== this.stage) {
      if (this.stage !== undefined) {
        const kind = this.finished[unitOf(this.stage)];
        kind.units += this.stageDone;
        kind.seconds += (this.last - this.stageStarted) / 1000;
      }
      this.stage = stage;
      // The gap since the last update (set-up of this stage) belongs to this stage.
      this.stageStarted = this.last;
    }
    this.stageDone = done;
    this.last = t;
    const unit = unitOf(stage);
    const measured = (k: 'images' | 'epochs') => {
      const f = this.finished[k];
      const current = unit === k;
      const units = f.units + (current ? done : 0);
      const seconds = f.seconds + (current ? (t - this.stageStarted) / 1000 : 0);
      return { units, rate: units > 0 && seconds > 0 ? units / seconds : undefined };
    };
    const images = measured('images');
    const epochs = measured('epochs');
    const p = this.plan;
    const imagesLeft = Math.max(0, p.trainImages + p.validationImages + p.testImages - images.units);
    const epochsLeft = Math.max(0, p.probeEpochs - epochs.units);
    const probeCounted = epochsLeft === 0 || epochs.rate !== undefined;
    let secondsLeft: number | undefined;
    if (imagesLeft === 0 || images.rate !== undefined) {
      secondsLeft = images.rate !== undefined ? imagesLeft / images.rate : 0;
      if (epochsLeft > 0 && epochs.rate !== undefined) secondsLeft += epochsLeft / epochs.rate;
    }
    const elapsedSeconds = (t - this.started) / 1000;
    const fraction =
      secondsLeft !== undefined && probeCounted
        ? elapsedSeconds / Math.max(elapsedSeconds + secondsLeft, 1e-9)
        : images.units / Math.max(images.units + imagesLeft, 1);
    return {
      stage,
      done,
      total: totalOf(stage, p),
      unit,
      elapsedSeconds,
      secondsLeft,
      probeCounted,
      fraction: Math.min(1, fraction),
    };
  }
}

function unitOf(stage: EvalStage): 'images' | 'epochs' {
  return IMAGE_STAGES.includes(stage) ? 'images' : 'epochs';
}

function totalOf(stage: EvalStage, p: EvalPlan): number {
  switch (stage) {
    case 'train features':
      return p.trainImages;
    case 'validation features':
      return p.validationImages;
    case 'test features':
      return p.testImages;
    case 'probe':
      return p.probeEpochs;
  }
}
