#!/usr/bin/env node
// Prints the compiler (`cflags`) or linker (`libs`) flags of the installed MPI, for binding.gyp.
// Tries pkg-config (Open MPI's ompi-c, MPICH's mpich), then the compiler wrapper: Open MPI's
// `mpicc --showme:compile|link`, MPICH's `mpicc -compile_info|-link_info` (the first word, the
// compiler itself, is dropped). Prints nothing when none is found; build-addon.mjs checks first.
import { spawnSync } from 'node:child_process';

const which = process.argv[2] === 'libs' ? 'libs' : 'cflags';
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
};

export function mpiFlags(kind) {
  for (const pkg of ['ompi-c', 'mpich']) {
    const out = run('pkg-config', [kind === 'libs' ? '--libs' : '--cflags', pkg]);
    if (out !== undefined) return out;
  }
  const showme = run('mpicc', [kind === 'libs' ? '--showme:link' : '--showme:compile']);
  if (showme !== undefined) return showme;
  const info = run('mpicc', [kind === 'libs' ? '-link_info' : '-compile_info']);
  if (info !== undefined) {
    const words = info.split(/\s+/).slice(1);
    return words.filter((w) => (kind === 'libs' ? /^-(L|l|Wl)/.test(w) : /^-(I|D)/.test(w))).join(' ');
  }
  return undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(mpiFlags(which) ?? '');
