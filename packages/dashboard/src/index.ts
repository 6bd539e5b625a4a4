/** The supcon dashboard: a local web server over run folders, and SupCon training in a browser tab. */
export { type DatasetMeta, MAX_SERVED_IMAGES, SERVED_DATASETS } from './data.js';
export { hostCheck, hostName, isHostName, isLoopback } from './hosts.js';
export {
  listRuns,
  listSweeps,
  NotFoundError,
  parseMetrics,
  type RunRow,
  resolveInside,
  runDetail,
  runMetrics,
} from './runs.js';
export { type Dashboard, type DashboardOptions, dashboardHandler, startDashboard } from './server.js';
