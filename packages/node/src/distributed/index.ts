export {
  benchCollectives,
  COLLECTIVE_OPS,
  type CollectiveCase,
  type CollectivesBench,
  fitLatencyBandwidth,
  killedRankMessage,
  launchedByMpi,
  loadMpi,
  localMpirun,
  MPI_FIX_COMMAND,
  type Mpi,
  type MpirunJob,
  mpiLoadError,
  startMpirun,
  TRANSPORTS,
  type Transport,
} from '@supcon/mpi';
export { DistributedTrainingError, fingerprint } from './agreement.js';
export { MpiCollectives } from './collectives.js';
export * from './launch.js';
export * from './rank.js';
