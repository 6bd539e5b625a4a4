export * from './calibration.js';
export * from './corruptions.js';
export * from './features.js';
export * from './fewshot.js';
export * from './knn.js';
export * from './linear.js';
export * from './metrics.js';
export * from './projection.js';
