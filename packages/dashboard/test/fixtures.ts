/** A temporary runs folder as `supcon train`, `linear`, `robustness` and `sweep` write them. */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const line = (r: object) => `${JSON.stringify(r)}\n`;

export function step(iteration: number, loss: number) {
  return {
    type: 'step',
    epoch: 0,
    step: iteration,
    iteration,
    loss,
    lr: 0.1,
    imagesPerSecond: 500,
    seconds: 0.2,
  };
}

export function config(method: string, epochs: number, dataset = 'fashion-mnist') {
  return {
    train: { method, epochs, batchSize: 64, lr: 0.05, temperature: 0.1 },
    model: { encoder: 'mlp' },
    data: { dataset },
  };
}

/** `<tmp>/runs` with runs a (supcon, evaluated, robustness, mCE against b), b (ce, evaluated, an old
 * summary), live (supcon, no
 * summary), a sweep with one run, a symlink pointing out of the folder; and `<tmp>/outside`. */
export function makeRunsFolder(): { root: string; runs: string } {
  const root = mkdtempSync(join(tmpdir(), 'supcon-dashboard-'));
  const runs = join(root, 'runs');
  const write = (path: string, text: string) => {
    mkdirSync(join(runs, path, '..'), { recursive: true });
    writeFileSync(join(runs, path), text);
  };
  const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
  // Asked for bf16; the summary records the precision that ran.
  write('a/config.json', json({ ...config('supcon', 1), precision: 'bf16' }));
  write(
    'a/metrics.jsonl',
    line(step(0, 5.5)) +
      line(step(1, 5.2)) +
      line(step(2, 4.9)) +
      line({ type: 'epoch', epoch: 0, iteration: 3, loss: 5.2, seconds: 1, knnAccuracy: 0.71 }),
  );
  write(
    'a/summary.json',
    json({
      testAccuracy: 0.8,
      validationAccuracy: 0.81,
      knn: { k: 20, bank: 500, temperature: 0.1, test: { top1: 0.79, top5: 0.95, images: 100 } },
      cleanTestAccuracy: 0.8,
      meanCorruptionError: 0.365,
      mCE: 0.948,
      mCEBaseline: 'runs/b',
      precision: 'fp32',
    }),
  );
  write(
    'a/robustness.json',
    json({
      cleanAccuracy: 0.8,
      accuracy: { gaussianNoise: [0.7, 0.6], contrast: [0.75, 0.5] },
      severities: [1, 3],
      meanCorruptionError: 0.3625,
      testImages: 100,
      seconds: 1,
      cleanCalibrationError: 0.05,
      meanCalibrationErrorBySeverity: [0.1, 0.2],
    }),
  );
  write('b/config.json', json(config('ce', 1)));
  write(
    'b/metrics.jsonl',
    line(step(0, 2.3)) + line({ type: 'epoch', epoch: 0, iteration: 1, loss: 2.3, seconds: 1 }),
  );
  // Written by an earlier version: the kNN number under its old name, without its settings.
  write('b/summary.json', json({ testAccuracy: 0.75, validationAccuracy: 0.76, knn_test_top1: 0.6 }));
  write('live/config.json', json(config('supcon', 5)));
  write('live/metrics.jsonl', line(step(0, 6)));
  write(
    'tau/sweep.json',
    json({
      vary: 'temperature',
      values: ['0.1'],
      trainFlags: [],
      runs: [
        {
          value: '0.1',
          run: 'runs/tau/temperature=0.1',
          testAccuracy: 0.7,
          validationAccuracy: 0.72,
          trainSeconds: 3,
        },
      ],
    }),
  );
  write('tau/temperature=0.1/config.json', json(config('supcon', 1)));
  mkdirSync(join(root, 'outside'));
  writeFileSync(join(root, 'outside', 'config.json'), json(config('supcon', 1)));
  writeFileSync(join(root, 'outside', 'metrics.jsonl'), line(step(0, 1)));
  symlinkSync(join(root, 'outside'), join(runs, 'link'));
  return { root, runs };
}
