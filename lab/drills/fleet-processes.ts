import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../runtime/package-root.ts';

const CLI = join(packageRoot(), 'bin', 'pcpflow.js');

export interface WorkerProcess {
  pid: number;
  httpPort: number;
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/**
 * Starts `pcpflow worker` as a real child process (the way systemd would), logs to a file,
 * and waits until /readyz answers. Stopped by pid: SIGTERM (graceful) or SIGKILL (a crash).
 */
export async function startWorker(opts: { configPath: string; httpPort: number; logFile: string; roles?: string; env?: Record<string, string>; nodeArgs?: string[] }): Promise<WorkerProcess> {
  const fd = openSync(opts.logFile, 'a');
  const args = [...(opts.nodeArgs ?? []), CLI, 'worker', '--http-port', String(opts.httpPort)];
  if (opts.roles) args.push('--roles', opts.roles);
  const child: ChildProcess = spawn(process.execPath, args, {
    env: { ...process.env, PCPFLOW_CONFIG: opts.configPath, PCPFLOW_LOG_LEVEL: process.env.PCPFLOW_LOG_LEVEL ?? 'info', ...opts.env },
    stdio: ['ignore', fd, fd],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('worker did not start');
  const exited = once(child, 'exit');
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode} during start; see ${opts.logFile}`);
    const ok = await fetch(`http://127.0.0.1:${opts.httpPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`worker not ready within 60 s; see ${opts.logFile}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stopWith = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  return { pid, httpPort: opts.httpPort, stop: () => stopWith('SIGTERM'), kill: () => stopWith('SIGKILL') };
}
