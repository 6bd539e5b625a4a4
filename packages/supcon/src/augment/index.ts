export * from './autoaugment.js';
export * from './color.js';
export * from './geometry.js';
export * from './pipeline.js';
export * from './policies.js';
export * from './presets.js';
export * from './random.js';
export * from './validate.js';
