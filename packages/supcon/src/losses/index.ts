export * from './layers.js';
export * from './supcon.js';
