#!/usr/bin/env node
// Builds the MPI addon with node-gyp. Runs as the package's `install` script, so a failure must not
// fail `npm install`/`npm ci`: it prints what failed and the command that fixes it, and `loadMpi()`
// says the same at run time. `--strict` (used by `npm run build:addon`) exits non-zero instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mpiFlags } from './mpi-flags.mjs';

const strict = process.argv.includes('--strict');
const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fix = 'apt-get install -y openmpi-bin libopenmpi-dev g++ make python3 && npm rebuild @supcon/mpi';

function fail(what) {
  const stream = strict ? console.error : console.warn;
  stream(`@supcon/mpi: the MPI addon was not built: ${what}`);
  stream(`@supcon/mpi: to fix it, run: ${fix}`);
  stream('@supcon/mpi: until then only one-process training works (supcon train without --processes).');
  process.exit(strict ? 1 : 0);
}

if (process.env.SUPCON_SKIP_MPI_BUILD === '1') {
  console.warn('@supcon/mpi: SUPCON_SKIP_MPI_BUILD=1, not building the addon.');
  process.exit(0);
}
const cflags = mpiFlags('cflags');
if (cflags === undefined)
  fail('no MPI development files found (neither pkg-config ompi-c/mpich nor mpicc answered).');

let nodeGyp;
try {
  nodeGyp = createRequire(join(packageDir, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
} catch {
  fail('node-gyp is not installed (it is a dependency of @supcon/mpi; run npm install).');
}

// The headers that ship with this Node, so the build works offline (node-gyp would download them).
const args = [nodeGyp, 'rebuild', '--jobs=2'];
const prefix = resolve(dirname(process.execPath), '..');
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

console.log(`@supcon/mpi: building the MPI addon: node ${args.slice(1).join(' ')}`);
const result = spawnSync(process.execPath, args, { cwd: packageDir, stdio: 'inherit' });
if (result.status !== 0)
  fail(`node-gyp exited with status ${result.status ?? result.signal} (see its output above).`);
console.log('@supcon/mpi: addon built at build/Release/supcon_mpi.node');
