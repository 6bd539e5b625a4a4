/**
 * Starting `mpirun` from a Node process the way both `supcon train --processes N` and
 * `trainDistributed` need it: in its own process group, so a Ctrl-C in the terminal reaches this
 * process only and becomes SIGUSR1 for mpirun (which forwards it to every rank: a clean stop after
 * the same step) instead of mpirun's kill-the-job SIGINT; a second Ctrl-C or SIGTERM ends the job
 * now; this process exiting kills mpirun. A missing `mpirun` is one sentence with the fix.
 *
 * @example
 *   const job = startMpirun(localMpirun({ processes: 2, command }), { stdio: 'inherit', handleSignals: true });
 *   const { code } = await job.exited;
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { UserError } from 'supcon';
import { MPI_FIX_COMMAND } from './index.js';

export interface MpirunJob {
  child: ChildProcess;
  /** Asks every rank to stop after the same step (SIGUSR1, forwarded by mpirun); once. */
  stop(): void;
  /** mpirun's end; rejects with a UserError when it could not be started. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startMpirun(
  launch: { file: string; args: string[]; env: NodeJS.ProcessEnv },
  options: {
    /** Arguments after the launch's own (e.g. the job file). */
    extraArgs?: string[];
    /** Variables added to the launch's environment. */
    env?: Record<string, string>;
    /** 'inherit': mpirun writes to this terminal; 'pipe': the caller reads child.stdout/stderr. */
    stdio: 'inherit' | 'pipe';
    /** Turn SIGINT/SIGTERM of this process into a stop (the first) and an end (the second). */
    handleSignals: boolean;
  },
): MpirunJob {
  const child = spawn(launch.file, [...launch.args, ...(options.extraArgs ?? [])], {
    env: { ...launch.env, ...options.env },
    stdio: ['ignore', options.stdio, options.stdio],
    detached: true,
  });
  let stopSent = false;
  let signals = 0;
  const stop = () => {
    if (stopSent || child.exitCode !== null) return;
    stopSent = true;
    child.kill('SIGUSR1');
  };
  const onSignal = () => {
    signals++;
    if (signals === 1) stop();
    else child.kill('SIGTERM'); // a second Ctrl-C: mpirun ends the job now
  };
  const onExit = () => child.kill('SIGKILL');
  if (options.handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  process.on('exit', onExit);
  const cleanUp = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  };
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      cleanUp();
      reject(
        new UserError(
          error.code === 'ENOENT'
            ? `\`${launch.file}\` was not found: install Open MPI (${MPI_FIX_COMMAND}).`
            : `Cannot start \`${launch.file}\`: ${error.message}.`,
        ),
      );
    });
    child.once('close', (code, signal) => {
      cleanUp();
      resolve({ code, signal });
    });
  });
  return { child, stop, exited };
}
