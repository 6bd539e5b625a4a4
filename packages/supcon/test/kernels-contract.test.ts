/**
 * One home for the core ↔ backend kernel contract (src/kernels.ts): each custom kernel's name is
 * written once in the source of every package, so a backend and the core cannot drift apart by a
 * typo; and no package looks the loss row kernel up through a global symbol any more.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as kernels from 'supcon/kernels';

const packages = new URL('../../', import.meta.url).pathname; // packages/ from dist-test/
function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (/\.(ts|cc|h|inc)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}
const files = readdirSync(packages).flatMap((p) => {
  const src = join(packages, p, 'src');
  return statSync(src, { throwIfNoEntry: false })?.isDirectory() ? sources(src) : [];
});

test('every custom kernel name appears on exactly one line of source, in kernels.ts', () => {
  const names = Object.entries(kernels)
    .filter(([key, value]) => typeof value === 'string' && key === value)
    .map(([key]) => key);
  assert.deepEqual(names.sort(), [
    'SupconAdamUpdate',
    'SupconAttention',
    'SupconAttentionGrad',
    'SupconAutocastMatMul',
    'SupconBatchNorm',
    'SupconBatchNormGrad',
    'SupconFusedGelu',
    'SupconFusedGeluGrad',
    'SupconFusedLayerNorm',
    'SupconFusedLayerNormGrad',
    'SupconLarsUpdate',
    'SupconLinearGrad',
    'SupconRunningStats',
    'SupconScaledSoftmax',
    'SupconScaledSoftmaxGrad',
    'SupconSgdUpdate',
  ]);
  for (const name of names) {
    const hits = files.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .filter((line) => line.includes(`'${name}'`) || line.includes(`"${name}"`))
        .map((line) => `${f}: ${line.trim()}`),
    );
    assert.equal(hits.length, 1, `${name} is spelled out in:\n${hits.join('\n')}`);
    assert.match(hits[0]!, /supcon\/src\/kernels\.ts: export const/);
  }
});

test('the loss row kernel is installed through the contract, not a global symbol', () => {
  const offenders = files.filter((f) => readFileSync(f, 'utf8').includes("Symbol.for('supcon."));
  assert.deepEqual(offenders, []);
  const row = () => 0;
  kernels.setLossRowKernel(row);
  assert.equal(kernels.getLossRowKernel(), row);
  kernels.setLossRowKernel(undefined);
  assert.equal(kernels.getLossRowKernel(), undefined);
});
