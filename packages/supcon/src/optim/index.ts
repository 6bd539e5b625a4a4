export * from './adam.js';
export * from './base.js';
export * from './clip.js';
export * from './factory.js';
export * from './lars.js';
export * from './schedule.js';
export * from './sgd.js';
export * from './types.js';
