/**
 * Unpacks the regular files of a .tar.gz (ustar) archive, as the CIFAR archives are; refuses
 * paths that would leave the target folder. Each file is written atomically.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, normalize } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DatasetError } from './errors.js';
import { writeFileAtomic } from './png.js';

function field(block: Uint8Array, start: number, length: number): string {
  const bytes = block.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return Buffer.from(end >= 0 ? bytes.subarray(0, end) : bytes).toString('utf8');
}

/** Returns the paths written, relative to `dir`. */
export function extractTarGz(archive: string, dir: string): string[] {
  let tar: Uint8Array;
  try {
    tar = gunzipSync(readFileSync(archive));
  } catch (error) {
    throw new DatasetError(
      archive,
      `it is not a readable .tar.gz archive (${error instanceof Error ? error.message : String(error)})`,
    );
  }
  const written: string[] = [];
  let at = 0;
  while (at + 512 <= tar.length) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break; // end-of-archive marker
    const name = field(header, 0, 100);
    const prefix = field(header, 345, 155);
    const path = prefix ? `${prefix}/${name}` : name;
    const size = Number.parseInt(field(header, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156]!);
    if (!Number.isFinite(size) || size < 0 || at + 512 + size > tar.length) {
      throw new DatasetError(archive, `the tar entry \`${path}\` is truncated or has a bad size`);
    }
    if (type === '0' || type === '\0') {
      const clean = normalize(path);
      if (isAbsolute(clean) || clean.startsWith('..'))
        throw new DatasetError(archive, `the tar entry \`${path}\` points outside the target folder`);
      const target = join(dir, clean);
      mkdirSync(dirname(target), { recursive: true });
      writeFileAtomic(target, tar.subarray(at + 512, at + 512 + size));
      written.push(clean);
    }
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return written;
}
