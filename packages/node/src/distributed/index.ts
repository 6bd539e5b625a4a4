export { launchedByMpi, loadMpi, type Mpi, mpiLoadError } from '@supcon/mpi';
export { MpiCollectives } from './collectives.js';
export * from './launch.js';
export * from './rank.js';
