/**
 * scripts/setup.sh: the README's first command (set-up + `supcon demo`) installs only what
 * training needs; PyTorch and Chromium, used only by the tests, the reference scripts and the
 * benchmarks, come with `--dev`, which the README's test command and CI use.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const root = new URL('../../../../', import.meta.url).pathname;
const list = (...args: string[]) =>
  execFileSync('bash', [join(root, 'scripts/setup.sh'), ...args, '--list'], { encoding: 'utf8' })
    .trim()
    .split(/\s+/);
const TEST_ONLY = ['python3-torch', 'python3-torchvision', 'chromium'];

test('setup.sh installs PyTorch and Chromium only with --dev', () => {
  const main = list();
  for (const p of ['g++', 'make', 'python3', 'libdnnl-dev', 'dataset-fashion-mnist'])
    assert.ok(main.includes(p), p);
  for (const p of TEST_ONLY) assert.ok(!main.includes(p), `${p} is installed for everyone`);
  const dev = list('--dev');
  for (const p of [...main, ...TEST_ONLY]) assert.ok(dev.includes(p), `--dev lacks ${p}`);
});

test('the README and CI use the set-up each job needs; a wrong argument is refused', () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  assert.match(readme, /^bash scripts\/setup\.sh && npx supcon demo$/m);
  assert.match(readme, /^bash scripts\/setup\.sh --dev && npm test$/m);
  assert.match(readFileSync(join(root, '.ci/run'), 'utf8'), /bash scripts\/setup\.sh --dev && npm test/);
  assert.throws(
    () => execFileSync('bash', [join(root, 'scripts/setup.sh'), '--devv'], { stdio: 'pipe' }),
    (e: { status: number; stderr: Buffer }) =>
      e.status === 2 && /unknown argument '--devv'; expected --dev and\/or --list/.test(e.stderr.toString()),
  );
});
