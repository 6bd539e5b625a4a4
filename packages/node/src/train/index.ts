export * from './bench.js';
export * from './checkpoint.js';
export * from './embed.js';
export * from './evaluate.js';
export * from './report.js';
export * from './robustness.js';
export * from './session.js';
export * from './spec.js';
