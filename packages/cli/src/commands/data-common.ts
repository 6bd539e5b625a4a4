/** Helpers shared by the `supcon data …` and `supcon bench augment` commands. */
import { DatasetError, DatasetNotFoundError } from '@supcon/node';
import { InvalidArgumentError } from 'supcon';
import { CliError } from '../command.js';
import type { FlagSpec } from '../flags.js';

export const sizeFlag: FlagSpec = { kind: 'int', default: 32, min: 1 };

/** Dataset and argument problems print as their one sentence with exit code 1, not a stack trace. */
export async function datasetErrorsAsCliErrors<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (
      error instanceof DatasetError ||
      error instanceof DatasetNotFoundError ||
      error instanceof InvalidArgumentError
    ) {
      throw new CliError(error.message, 1);
    }
    throw error;
  }
}
