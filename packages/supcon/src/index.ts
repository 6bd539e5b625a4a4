/**
 * supcon: Supervised Contrastive Learning (Khosla et al., NeurIPS 2020) on TensorFlow.js.
 * The isomorphic core: it imports only TensorFlow.js, so it runs in Node and in browsers.
 */
// The umbrella package registers the gradients of every op (tfjs-core's Node build does not) and the
// cpu backend (plus webgl in browsers); faster backends such as @supcon/native register over them.
import '@tensorflow/tfjs';

export * from './augment/index.js';
export { check, EXIT_FAILED, EXIT_USAGE, InvalidArgumentError, UserError } from './errors.js';
export * from './eval/index.js';
export * from './export/index.js';
export * from './kernels.js';
export * from './losses/index.js';
export * from './models/index.js';
export * from './optim/index.js';
export * from './train/index.js';
