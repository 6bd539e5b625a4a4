/** Headless Chromium for the page tests: found on the PATH (or $CHROMIUM), run in its own process group. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';

export function findChromium(): string | undefined {
  for (const name of [process.env['CHROMIUM'], 'chromium', 'chromium-browser', 'google-chrome']) {
    if (!name) continue;
    try {
      execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'pipe' });
      return name;
    } catch {
      // not this one
    }
  }
  return undefined;
}

export const chromium = findChromium();
export const skip = chromium ? false : 'Chromium is not installed (apt-get install -y chromium)';

/** Runs Chromium headless on `url` (in its own process group, killed at the end). */
export function browse(url: string, profile: string, extra: string[] = []) {
  const child = spawn(
    chromium!,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      // Software WebGL (SwiftShader) for our own trusted page: newer Chromium wants the opt-in.
      '--enable-unsafe-swiftshader',
      '--disable-dev-shm-usage',
      '--no-first-run',
      `--user-data-dir=${profile}`,
      ...extra,
      url,
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

export function kill(child: ChildProcess): void {
  if (child.exitCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL'); // the group: Chromium's helper processes too
  } catch {
    // already gone
  }
}
