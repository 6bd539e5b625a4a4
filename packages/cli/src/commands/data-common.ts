/** Helpers shared by the `supcon data …` and `supcon bench augment` commands. */
import type { FlagSpec } from '../flags.js';

export const sizeFlag: FlagSpec = { kind: 'int', default: 32, min: 1 };
