export { type Batch, type BatchOutcome, TrainerBase } from './base.js';
export * from './config.js';
export * from './distributed.js';
export * from './gradcache.js';
export * from './grads.js';
export * from './joint-probe.js';
export * from './loss.js';
export * from './sampler.js';
export * from './trainer.js';
