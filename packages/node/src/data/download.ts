/**
 * Dataset downloads from the official addresses: checksum-verified (the publishers' MD5s),
 * written atomically (`NAME.part`, renamed when complete and verified), resumable (an HTTP
 * Range request continues a `.part` file left by an interrupted run), with a progress callback.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT_FAILED, UserError } from 'supcon';
import { extractTarGz } from './tar.js';

export interface RemoteFile {
  /** File name in the target folder. */
  name: string;
  url: string;
  md5: string;
  /** Expected size, when published (shown before the server answers). */
  bytes?: number;
}

export interface DatasetSource {
  files: RemoteFile[];
  /** Archives to unpack into the target folder after verification. */
  extract?: boolean;
}

const MNIST_MIRROR = 'https://ossci-datasets.s3.amazonaws.com/mnist/';
const FASHION = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/**
 * The four gzipped IDX files of an MNIST-format dataset under `base`, with their MD5s in the order
 * train images, train labels, test images, test labels (MNIST and Fashion-MNIST share the names).
 */
function idxSource(base: string, md5s: [string, string, string, string]): DatasetSource {
  const names = [
    'train-images-idx3-ubyte.gz',
    'train-labels-idx1-ubyte.gz',
    't10k-images-idx3-ubyte.gz',
    't10k-labels-idx1-ubyte.gz',
  ];
  return { files: names.map((name, i) => ({ name, url: `${base}${name}`, md5: md5s[i]! })) };
}

/** Official sources and checksums (as published by the datasets' authors and used by torchvision). */
export const DATASET_SOURCES: Record<'mnist' | 'fashion-mnist' | 'cifar10' | 'cifar100', DatasetSource> = {
  mnist: idxSource(MNIST_MIRROR, [
    'f68b3c2dcbeaaa9fbdd348bbdeb94873',
    'd53e105ee54ea40749a09fcbcd1e9432',
    '9fb629c4189551a2d022fa330f9573f3',
    'ec29112dd5afa0611ce80d1b7f02629c',
  ]),
  'fashion-mnist': idxSource(FASHION, [
    '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
    '25c81989df183df01b3e8a0aad5dffbe',
    'bef4ecab320f06d8554ea6380940ec79',
    'bb300cfdad3c16e7a12a480ee83cd310',
  ]),
  cifar10: {
    files: [
      {
        name: 'cifar-10-binary.tar.gz',
        url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
        md5: 'c32a1d4ab5d03f1284b67883e8d87530',
        bytes: 170052171,
      },
    ],
    extract: true,
  },
  cifar100: {
    files: [
      {
        name: 'cifar-100-binary.tar.gz',
        url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
        md5: '03b5dce01913d631647c71ecec9e9cb8',
        bytes: 168513733,
      },
    ],
    extract: true,
  },
};

/** A download that could not be completed or verified (exit code 1): one sentence saying what to do. */
export class DownloadError extends UserError {
  constructor(message: string) {
    super(message, EXIT_FAILED);
    this.name = 'DownloadError';
  }
}

export interface Progress {
  file: string;
  received: number;
  /** Total bytes, when known. */
  total: number | undefined;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  /** Bytes that were already on disk from an interrupted run. */
  resumedFrom: number;
  /** The verified file was already there; nothing was fetched. */
  skipped: boolean;
}

export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Downloads one file into `dir`, resuming a `.part` file and verifying the MD5 before the rename. */
export async function downloadFile(
  file: RemoteFile,
  dir: string,
  onProgress?: (p: Progress) => void,
): Promise<DownloadResult> {
  mkdirSync(dir, { recursive: true });
  const dest = join(dir, file.name);
  if (existsSync(dest) && (await md5File(dest)) === file.md5) {
    return { path: dest, bytes: statSync(dest).size, resumedFrom: 0, skipped: true };
  }
  const part = `${dest}.part`;
  let have = existsSync(part) ? statSync(part).size : 0;
  const resumedFrom = have;
  let response: Response;
  try {
    response = await fetch(file.url, { headers: have > 0 ? { Range: `bytes=${have}-` } : {} });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new DownloadError(`Cannot reach ${file.url} (${cause?.code ?? cause?.message ?? String(error)}).`);
  }
  let total: number | undefined;
  const length = Number(response.headers.get('content-length') ?? Number.NaN);
  if (response.status === 416 && have > 0) {
    total = have; // the .part file already holds everything the server has
    await response.body?.cancel();
  } else if (response.status === 206 && have > 0) {
    const start = /bytes (\d+)-/.exec(response.headers.get('content-range') ?? '');
    if (!start || Number(start[1]) !== have) {
      await response.body?.cancel();
      throw new DownloadError(
        `${file.url} answered a resume request at byte ${have} with range ${response.headers.get('content-range') ?? 'none'}; delete ${part} and run again.`,
      );
    }
    total = Number.isFinite(length) ? have + length : undefined;
  } else if (response.status === 200) {
    have = 0; // no range support (or nothing to resume): start over
    total = Number.isFinite(length) ? length : file.bytes;
  } else {
    await response.body?.cancel();
    throw new DownloadError(`${file.url} answered HTTP ${response.status} ${response.statusText}.`);
  }
  if (response.status !== 416) {
    const handle = await open(part, have > 0 ? 'a' : 'w');
    try {
      if (response.body) {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          await handle.write(chunk);
          have += chunk.length;
          onProgress?.({ file: file.name, received: have, total });
        }
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new DownloadError(
        `The download of ${file.url} stopped after ${have}${total ? ` of ${total}` : ''} bytes (${reason}); run the command again to resume it.`,
      );
    } finally {
      await handle.close();
    }
    if (total !== undefined && have < total) {
      throw new DownloadError(
        `The download of ${file.url} stopped after ${have} of ${total} bytes; run the command again to resume it.`,
      );
    }
  }
  const md5 = await md5File(part);
  if (md5 !== file.md5) {
    rmSync(part, { force: true });
    throw new DownloadError(
      `${file.name} from ${file.url} failed its checksum (expected MD5 ${file.md5}, got ${md5}); the damaged file was removed, run the command again.`,
    );
  }
  renameSync(part, dest);
  return { path: dest, bytes: statSync(dest).size, resumedFrom, skipped: false };
}

/** Downloads (and for CIFAR unpacks) every file of a source into `dir`. */
export async function downloadDataset(
  source: DatasetSource,
  dir: string,
  onProgress?: (p: Progress) => void,
): Promise<DownloadResult[]> {
  const results: DownloadResult[] = [];
  for (const file of source.files) {
    const result = await downloadFile(file, dir, onProgress);
    results.push(result);
    if (source.extract) extractTarGz(result.path, dir);
  }
  return results;
}

/** A one-line progress bar for a terminal: `name [#####-----] 42% 11.2/26.4 MB 3.1 MB/s`. */
export function progressBar(stream: NodeJS.WriteStream): (p: Progress) => void {
  let last = 0;
  let start = 0;
  let current = '';
  return (p) => {
    const now = Date.now();
    if (p.file !== current) {
      current = p.file;
      start = now;
    }
    const done = p.total !== undefined && p.received >= p.total;
    if (!done && now - last < 100) return;
    last = now;
    const mb = (b: number) => (b / 1e6).toFixed(1);
    const rate = p.received / Math.max(0.001, (now - start) / 1000) / 1e6;
    const frac = p.total ? Math.min(1, p.received / p.total) : 0;
    const bar = p.total
      ? `[${'#'.repeat(Math.round(frac * 24)).padEnd(24, '-')}] ${String(Math.round(frac * 100)).padStart(3)}%`
      : '';
    stream.write(
      `\r${p.file.padEnd(28)} ${bar} ${mb(p.received)}${p.total ? `/${mb(p.total)}` : ''} MB ${rate.toFixed(1)} MB/s${done ? '\n' : ''}`,
    );
  };
}
