/**
 * What `demo` and `linear` import from one place: the training flags, the run spec from flags, what
 * training prints and the run readers' flags, each in its own module (train-flags.ts, train-spec.ts,
 * train-output.ts, run-reader.ts).
 */
export { libraryErrorsAsCliErrors as argumentErrorsAsCliErrors } from '../command.js';
export { openRun, runReaderFlagHelp, runReaderFlagSpecs } from './run-reader.js';
export { runOptionsFromFlags, trainFlagSpecs } from './train-flags.js';
export * from './train-output.js';
export { resumeSpec, specFromFlags } from './train-spec.js';

import { trainFlagHelp as renderTrainFlagHelp } from './train-flags.js';

/** The help of the training flags for a single-process command. */
export const trainFlagHelp = renderTrainFlagHelp();
