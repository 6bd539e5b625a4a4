#!/usr/bin/env node
// Runs every compiled test file of every workspace with node's built-in test runner.
// Test files are TypeScript under packages/*/test, compiled by `tsc -b` to dist-test/ or dist/test/.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith('.test.js')) files.push(path);
  }
}
for (const pkg of readdirSync(join(root, 'packages'))) {
  for (const out of ['dist-test', 'dist/test']) {
    const dir = join(root, 'packages', pkg, out);
    if (existsSync(dir)) walk(dir);
  }
}
const filter = process.argv[2];
const selected = filter ? files.filter((f) => f.includes(filter)) : files;
if (selected.length === 0) {
  console.error('No compiled test files found: run `npm run build` first.');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...selected], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
