/** Node-side entry point of supcon: datasets on disk, downloads, the augmenting loader. */
export * from './backend.js';
export * from './data/index.js';
export * from './distributed/index.js';
export * from './train/index.js';
