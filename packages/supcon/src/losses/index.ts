export * from './layers.js';
export * from './queue.js';
export * from './supcon.js';
