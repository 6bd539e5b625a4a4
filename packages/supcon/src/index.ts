/**
 * supcon: Supervised Contrastive Learning (Khosla et al., NeurIPS 2020) on TensorFlow.js.
 * The isomorphic core: it imports only TensorFlow.js, so it runs in Node and in browsers.
 */
export { InvalidArgumentError } from './errors.js';
