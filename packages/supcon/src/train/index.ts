export * from './config.js';
export * from './loss.js';
export * from './network.js';
export * from './sampler.js';
export * from './trainer.js';
export * from './gradcache.js';
