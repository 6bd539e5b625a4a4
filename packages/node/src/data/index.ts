export * from './cifar.js';
export * from './datasets.js';
export * from './errors.js';
export * from './idx.js';
export * from './image-set.js';
export * from './inspect.js';
export * from './loader.js';
export * from './split.js';
