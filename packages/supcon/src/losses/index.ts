export * from './layers.js';
export * from './supcon.js';
export * from './queue.js';
