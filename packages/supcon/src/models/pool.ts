/**
 * Global average pooling, [B, H, W, C] → [B, C], the last layer of every ResNet encoder.
 *
 * Written as one H×W average pool rather than `tf.mean(x, [1, 2])`: tfjs differentiates Mean by
 * building a ones tensor of x's full shape in JavaScript and multiplying by it, which on the demo's
 * small ResNet (x: [512, 4, 4, 64]) made the pool and its gradient take 1.8 ms per step; the
 * pool's own gradient (AvgPoolGrad, native on our engine) spreads dy / (H·W) without it, 0.5 ms.
 * The values are the same mean up to float rounding.
 */
import * as tf from '@tensorflow/tfjs-core';

export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  const [batch, height, width, channels] = x.shape;
  const pooled = tf.avgPool(x, [height, width], 1, 'valid'); // [B, 1, 1, C]
  return tf.reshape(pooled, [batch, channels]); // [B, C]
}
