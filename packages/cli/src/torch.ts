/**
 * Runs a PyTorch baseline script from reference/ (Debian's python3-torch, 2 threads) and returns
 * the JSON object it prints last: the same-run baselines of the `bench` commands.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CliError } from './command.js';

export function runTorchScript(python: string, scriptName: string, args: string[]): Record<string, unknown> {
  const script = fileURLToPath(new URL(`../../../../reference/${scriptName}`, import.meta.url));
  if (!existsSync(script)) throw new CliError(`The PyTorch reference script is missing: expected ${script}.`);
  const argv = [script, ...args, '--json'];
  const out = spawnSync(python, argv, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '2' } });
  if (out.error || out.status !== 0) {
    const why = (out.stderr || String(out.error)).trim().split('\n').at(-1);
    throw new CliError(
      `The PyTorch baseline failed (${python} ${argv.join(' ')}): ${why}. Install it with: apt-get install python3-torch.`,
    );
  }
  return JSON.parse(out.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>;
}
