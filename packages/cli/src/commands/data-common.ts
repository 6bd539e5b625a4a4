/** Helpers shared by the `supcon data …` and `supcon bench augment` commands. */
import { libraryErrorsAsCliErrors } from '../command.js';
import type { FlagSpec } from '../flags.js';

export const sizeFlag: FlagSpec = { kind: 'int', default: 32, min: 1 };

/** Dataset and argument problems print as their one sentence, with the exit code of command.ts's policy. */
export const datasetErrorsAsCliErrors = libraryErrorsAsCliErrors;
