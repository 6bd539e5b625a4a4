/**
 * Files and folders the user names on the command line (`embed --out`, `data preview --out`, a run
 * or sweep folder): one behaviour for all of them. Missing parent folders are created (as `export`
 * does); a path that cannot be written is one sentence naming it and the reason, never a raw
 * `ENOENT … .tmp-123` of the temporary file.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { InvalidArgumentError } from 'supcon';
import { writeFileDurable } from './checkpoint.js';

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'a file of that name is in the way',
  EISDIR: 'it is a folder',
  ENOSPC: 'the disk is full',
  ENAMETOOLONG: 'the name is too long',
};

function unwritable(argument: string, path: string, what: string, error: unknown): InvalidArgumentError {
  const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
  return new InvalidArgumentError(
    argument,
    `${what} (${REASONS[code] ?? 'it cannot be written'}, ${code})`,
    path,
  );
}

/**
 * Creates `dir` and its missing parents; InvalidArgumentError naming `argument` if it cannot.
 *
 * @example
 *   ensureOutputFolder('out', 'runs/sweep/tau'); // like mkdir -p
 */
export function ensureOutputFolder(argument: string, dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw unwritable(argument, dir, 'a folder that can be created', error);
  }
}

/**
 * Writes `file` atomically and durably, creating missing parent folders; InvalidArgumentError naming
 * `argument` (e.g. `out`) and the path when it cannot.
 *
 * @example
 *   writeOutputFile('out', 'results/new/test.json', JSON.stringify(doc));
 */
export function writeOutputFile(argument: string, file: string, data: Uint8Array | string): void {
  ensureOutputFolder(argument, dirname(file));
  try {
    writeFileDurable(file, data);
  } catch (error) {
    throw unwritable(argument, file, 'a file path that can be written', error);
  }
}
