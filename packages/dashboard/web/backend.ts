/** The TensorFlow.js backend of the in-tab pages (/train, /search). */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Sets the first usable backend of `wanted` (`auto`: WebGL, else cpu, which is what headless
 * Chromium run with --disable-gpu ends up on) and returns its name.
 */
export async function pickBackend(wanted: string): Promise<string> {
  const order = wanted === 'auto' ? ['webgl', 'cpu'] : [wanted];
  for (const name of order) {
    try {
      if (await tf.setBackend(name)) {
        await tf.ready();
        return tf.getBackend();
      }
    } catch {
      // try the next one
    }
  }
  throw new Error(`No usable TensorFlow.js backend among ${order.join(', ')}.`);
}
