/** Node-side entry point of supcon (datasets, checkpoints, reports). */
export const nodePackageName = '@supcon/node';
