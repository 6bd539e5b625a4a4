export * from './coordinator.js';
export { CoordinatorGoneError, PipeCollectives } from './pipe.js';
