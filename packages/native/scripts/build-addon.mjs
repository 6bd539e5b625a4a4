#!/usr/bin/env node
// Builds the oneDNN addon with node-gyp. Runs as the package's `install` script, so a failure
// must not fail `npm install`/`npm ci`: it prints what failed and the command that fixes it,
// and the backend falls back to the pure-JS `cpu` kernels at run time.
// `--strict` (used by `npm run build:addon`) exits non-zero on failure instead.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const strict = process.argv.includes('--strict');
const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fix = 'apt-get install -y libdnnl-dev g++ make python3 && npm rebuild @supcon/native';

function fail(what) {
  const stream = strict ? console.error : console.warn;
  stream(`@supcon/native: the native engine was not built: ${what}`);
  stream(`@supcon/native: to fix it, run: ${fix}`);
  stream('@supcon/native: until then supcon falls back to the (much slower) pure-JS cpu backend.');
  process.exit(strict ? 1 : 0);
}

if (process.env.SUPCON_SKIP_NATIVE_BUILD === '1') {
  console.warn('@supcon/native: SUPCON_SKIP_NATIVE_BUILD=1, not building the addon.');
  process.exit(0);
}
if (!existsSync('/usr/include/dnnl.hpp') && !existsSync('/usr/local/include/dnnl.hpp')) {
  fail('oneDNN headers (dnnl.hpp) not found; the Debian package libdnnl-dev provides them.');
}

let nodeGyp;
try {
  nodeGyp = createRequire(join(packageDir, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
} catch {
  fail('node-gyp is not installed (it is a dependency of @supcon/native; run npm install).');
}

// Use the headers that ship with this Node (Debian's nodejs-dev or the official tarball) so
// the build works offline; without --nodedir node-gyp would download them.
const args = [nodeGyp, 'rebuild', '--jobs=2'];
const prefix = resolve(dirname(process.execPath), '..');
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);

console.log(`@supcon/native: building the oneDNN addon: node ${args.slice(1).join(' ')}`);
const result = spawnSync(process.execPath, args, { cwd: packageDir, stdio: 'inherit' });
if (result.status !== 0) {
  fail(`node-gyp exited with status ${result.status ?? result.signal} (see its output above).`);
}
console.log('@supcon/native: addon built at build/Release/supcon_native.node');
