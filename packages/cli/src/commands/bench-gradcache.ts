/**
 * `supcon bench gradcache`: one SupCon step of a CIFAR ResNet-18 on a large batch, computed directly
 * (all activations alive at once) and with gradient caching (`cachedGradients`, one chunk of
 * activations at a time). Each mode runs in its own child process so its peak resident memory
 * (VmHWM) is its own. A third process runs one taped forward in the same chunks ("ghost" BatchNorm:
 * statistics per chunk, every activation alive), the gradient caching must reproduce exactly; the
 * report gives peak memory, step time and how close the gradients are to both.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import {
  cachedGradients,
  createProjectionHead,
  createResNet18,
  projectionHeadForward,
  resNetForward,
  supConLoss,
  trainableVariables,
} from 'supcon';
import { BACKEND_CHOICES, type BackendChoice, selectBackend } from '../backend.js';
import { CliError, type Command } from '../command.js';
import { parseFlags } from '../flags.js';

type Mode = 'direct' | 'ghost' | 'cached';

interface ModeResult {
  mode: Mode;
  backend: string;
  loss: number;
  seconds: number;
  peakRssMiB: number;
  /** Σ|g| per variable, to compare the two gradients without shipping them. */
  gradNorms: number[];
}

function peakRssMiB(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function runMode(mode: Mode, batch: number, views: number, chunk: number, backend: string): ModeResult {
  const net = createResNet18({ seed: 0 });
  const head = createProjectionHead({ seed: 0 });
  const variables = trainableVariables(net, head);
  const state = [
    net.stem,
    ...net.blocks.flatMap((b) => [b.conv1, b.conv2, ...(b.shortcut ? [b.shortcut] : [])]),
  ].flatMap((c) => [c.bn.runningMean, c.bn.runningVar]);
  const images = tf.randomUniform([batch * views, 32, 32, 3], 0, 1, 'float32', 1) as tf.Tensor4D; // [N·V, 32, 32, 3] sample-major
  const labels = Array.from(tf.randomUniformInt([batch], 0, 10, 2).dataSync());
  const forward = (x: tf.Tensor) => projectionHeadForward(head, resNetForward(net, x as tf.Tensor4D, true)); // [n, 128]
  const loss = (z: tf.Tensor2D) => supConLoss(tf.reshape(z, [batch, views, -1]), labels) as tf.Scalar;
  const started = performance.now();
  // 'ghost': one taped forward in the same chunks as 'cached' (BatchNorm statistics per chunk, every
  // activation alive): the gradient that caching must reproduce exactly.
  const chunked = (x: tf.Tensor) => {
    const rows = x.shape[0]!;
    const parts: tf.Tensor2D[] = [];
    for (let s = 0; s < rows; s += chunk) parts.push(forward(tf.slice(x, s, Math.min(chunk, rows - s))));
    return tf.concat(parts, 0) as tf.Tensor2D;
  };
  const { value, grads } =
    mode === 'cached'
      ? cachedGradients({ forward, loss, inputs: images, chunkRows: chunk, variables, state })
      : tf.variableGrads(() => loss(mode === 'direct' ? forward(images) : chunked(images)), variables);
  const gradNorms = variables.map((v) => tf.tidy(() => tf.sum(tf.abs(grads[v.name]!)).dataSync()[0]!));
  const seconds = (performance.now() - started) / 1000;
  return { mode, backend, loss: value.dataSync()[0]!, seconds, peakRssMiB: peakRssMiB(), gradNorms };
}

const bin = fileURLToPath(new URL('../../../bin/supcon.js', import.meta.url));

export const benchGradcacheCommand: Command = {
  name: 'bench gradcache',
  summary: 'Peak memory and time of a large-batch ResNet-18 SupCon step, direct vs gradient caching',
  help: [
    'Usage: supcon bench gradcache [--batch-size N] [--views V] [--chunk ROWS] [--backend auto|native|cpu] [--json]',
    '',
    'Runs one forward+backward of N·V 32×32 images through a CIFAR ResNet-18 and the projection head',
    'with the SupCon loss, once directly and once in chunks of ROWS images (each in its own process),',
    'and reports peak resident memory, seconds and how close the gradients are.',
    '',
    '  --batch-size N   samples (default 256)',
    '  --views V        views per sample (default 2)',
    '  --chunk ROWS     images per chunk for gradient caching (default 64)',
  ].join('\n'),
  async run(argv) {
    const { flags } = parseFlags(argv, {
      'batch-size': { kind: 'int', default: 256, min: 1 },
      views: { kind: 'int', default: 2, min: 1 },
      chunk: { kind: 'int', default: 64, min: 1 },
      backend: { kind: 'string', default: 'auto', choices: BACKEND_CHOICES },
      mode: { kind: 'string', choices: ['direct', 'ghost', 'cached'] },
    });
    const batch = flags['batch-size'] as number;
    const views = flags['views'] as number;
    const chunk = flags['chunk'] as number;
    const mode = flags['mode'] as Mode | undefined;
    if (mode !== undefined) {
      // Child process: one mode, one JSON line.
      const backend = await selectBackend(flags['backend'] as BackendChoice, true);
      console.log(JSON.stringify(runMode(mode, batch, views, chunk, backend)));
      return 0;
    }
    const results = (['direct', 'ghost', 'cached'] as const).map((m) => {
      const r = spawnSync(
        process.execPath,
        [bin, 'bench', 'gradcache', '--mode', m, ...argv.filter((a) => a !== '--json')],
        { encoding: 'utf8', maxBuffer: 16 << 20 },
      );
      if (r.status !== 0)
        throw new CliError(`The ${m} step failed: ${(r.stderr ?? '').trim().split('\n').at(-1)}`);
      return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ModeResult;
    });
    const [direct, ghost, cached] = results as [ModeResult, ModeResult, ModeResult];
    const maxRel = (a: ModeResult, b: ModeResult) =>
      Math.max(...a.gradNorms.map((d, i) => Math.abs(b.gradNorms[i]! - d) / Math.max(Math.abs(d), 1e-12)));
    const summary = {
      backend: direct.backend,
      batchSize: batch,
      views,
      chunkRows: chunk,
      direct: { peakRssMiB: direct.peakRssMiB, seconds: direct.seconds, loss: direct.loss },
      ghost: { peakRssMiB: ghost.peakRssMiB, seconds: ghost.seconds, loss: ghost.loss },
      cached: { peakRssMiB: cached.peakRssMiB, seconds: cached.seconds, loss: cached.loss },
      memoryRatio: cached.peakRssMiB / direct.peakRssMiB,
      timeRatio: cached.seconds / direct.seconds,
      /** Largest relative difference of per-variable Σ|g|: cached vs the chunked taped forward (should be ~1e-6). */
      cachedVsGhost: maxRel(ghost, cached),
      /** The same against the one-batch forward (differs by BatchNorm's per-chunk statistics). */
      cachedVsDirect: maxRel(direct, cached),
    };
    if (flags['json']) console.log(JSON.stringify(summary));
    else
      console.log(
        [
          `ResNet-18 SupCon step, ${batch} × ${views} views, backend ${direct.backend}:`,
          `  direct          peak RSS ${direct.peakRssMiB.toFixed(0)} MiB, ${direct.seconds.toFixed(2)} s, loss ${direct.loss.toFixed(4)}`,
          `  cached (${chunk} rows) peak RSS ${cached.peakRssMiB.toFixed(0)} MiB, ${cached.seconds.toFixed(2)} s, loss ${cached.loss.toFixed(4)}`,
          `  memory ×${summary.memoryRatio.toFixed(2)}, time ×${summary.timeRatio.toFixed(2)} of the direct step`,
          `  gradients (per-variable Σ|g|): cached vs chunked taped forward within ${summary.cachedVsGhost.toExponential(1)};`,
          `  vs the one-batch forward within ${(100 * summary.cachedVsDirect).toFixed(1)} % (BatchNorm statistics are per chunk)`,
        ].join('\n'),
      );
    return 0;
  },
};
