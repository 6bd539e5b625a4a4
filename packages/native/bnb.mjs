import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import { BATCH_NORM, registerNativeBackend, setPrecision } from './dist/src/index.js';

registerNativeBackend();
await tf.setBackend('native');
for (const p of ['fp32', 'bf16']) {
  setPrecision(p);
  for (const shape of [
    [512, 14, 14, 16],
    [128, 32, 32, 64],
  ]) {
    const c = shape[3];
    const x0 = tf.randomNormal(shape);
    const g = tf.ones([c]);
    const b = tf.zeros([c]);
    const x = p === 'bf16' ? tf.conv2d(x0, tf.eye(c).reshape([1, 1, c, c]), 1, 'same') : x0;
    const dy =
      p === 'bf16'
        ? tf.conv2d(tf.randomNormal(shape), tf.eye(c).reshape([1, 1, c, c]), 1, 'same')
        : tf.randomNormal(shape);
    const time = (f) => {
      for (let i = 0; i < 3; i++) tf.dispose(f());
      const t = [];
      for (let i = 0; i < 15; i++) {
        const s = performance.now();
        tf.dispose(f());
        t.push(performance.now() - s);
      }
      return t.sort((a, b) => a - b)[7].toFixed(2);
    };
    const fwd = () =>
      tf
        .engine()
        .runKernel(
          BATCH_NORM,
          { x, scale: g, offset: b, residual: x },
          { epsilon: 1e-5, relu: true, residual: true },
        );
    const [y, mean, variance] = fwd();
    const bwd = () =>
      tf
        .engine()
        .runKernel(
          'SupconBatchNormGrad',
          { dy, x, y, scale: g, mean, variance },
          { epsilon: 1e-5, relu: true, residual: true },
        );
    console.log(
      p,
      shape.join('x'),
      'fwd',
      time(fwd),
      'ms bwd',
      time(bwd),
      'ms',
      Object.prototype.toString.call(tf.backend().data.get(y.dataId).values),
    );
  }
}
