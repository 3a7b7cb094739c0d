import { execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { redactText } from '../runtime/redact.ts';
import { LabCommandError, LabError } from './errors.ts';

/**
 * Runs the lab's programs with argv arrays (never a shell). PostgreSQL refuses to run as root, so
 * when pcpflow runs as root every server-side program runs as the `postgres` account through
 * Node's uid/gid spawn options: no runuser/su in between, so the pid we record is the program's.
 */

export interface ServiceUser {
  uid: number;
  gid: number;
  home: string;
  name: string;
}

let cached: Promise<ServiceUser | null> | undefined;

/** null = run as ourselves (already not root). */
export function serviceUser(): Promise<ServiceUser | null> {
  cached ??= (async () => {
    if (process.getuid?.() !== 0) return null;
    const { stdout } = await run(['getent', 'passwd', 'postgres'], { as: null }).catch((err: unknown) => {
      throw new LabError('running as root but there is no `postgres` account to run PostgreSQL and pgpool as; install postgresql (bash scripts/setup.sh)', {
        cause: err,
      });
    });
    const [name, , uid, gid, , home] = stdout.trim().split(':');
    if (!name || uid === undefined || gid === undefined) throw new LabError('cannot read the postgres account from getent passwd');
    return { name, uid: Number(uid), gid: Number(gid), home: home || '/' };
  })();
  return cached;
}

export interface RunOptions {
  /** undefined = the service user; null = the calling user. */
  as?: ServiceUser | null;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

function childEnv(user: ServiceUser | null, extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  if (user) {
    env.HOME = user.home;
    env.USER = user.name;
    env.LOGNAME = user.name;
  }
  // libpq in the children must not pick up a caller's connection defaults or passwords.
  for (const k of ['PGHOST', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD', 'PGSERVICE', 'PGOPTIONS']) delete env[k];
  return env;
}

async function resolveUser(as: ServiceUser | null | undefined): Promise<ServiceUser | null> {
  return as === undefined ? serviceUser() : as;
}

export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const [file, ...args] = argv;
  if (!file) throw new LabError('empty command');
  const user = opts.as === null ? null : await resolveUser(opts.as);
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: opts.cwd ?? '/',
        env: childEnv(user, opts.env),
        timeout: opts.timeoutMs ?? 120_000,
        maxBuffer: 16 * 1024 * 1024,
        killSignal: 'SIGKILL',
        ...(user ? { uid: user.uid, gid: user.gid } : {}),
      },
      (err, stdout, stderr) => {
        if (!err) return resolve({ stdout, stderr });
        const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
        const why =
          e.code === 'ENOENT'
            ? `${file} is not installed (run: bash scripts/setup.sh)`
            : e.killed
              ? `${file} did not finish within ${opts.timeoutMs ?? 120_000} ms`
              : `${file} exited with ${String(e.code ?? 'an error')}`;
        const tail = redactText(String(stderr || stdout).trim().split('\n').slice(-6).join('\n'));
        reject(new LabCommandError(`${why}: ${[file, ...args].join(' ')}${tail ? `\n${tail}` : ''}`, { cause: err }));
      },
    );
  });
}

/**
 * Starts a long-running program in its own process group, stdout and stderr appended to logFile,
 * detached from us so `pcpflow lab up` can exit while it runs on. Returns its pid (= its pgid).
 */
export async function spawnDaemon(argv: readonly string[], logFile: string, opts: RunOptions = {}): Promise<number> {
  const [file, ...args] = argv;
  if (!file) throw new LabError('empty command');
  const user = opts.as === null ? null : await resolveUser(opts.as);
  const fd = openSync(logFile, 'a', 0o644);
  try {
    const child = spawn(file, args, {
      cwd: opts.cwd ?? '/',
      env: childEnv(user, opts.env),
      detached: true,
      stdio: ['ignore', fd, fd],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(new LabCommandError(`cannot start ${file}: ${err.message}`, { cause: err })));
      child.once('spawn', () => (child.pid === undefined ? reject(new LabError(`no pid for ${file}`)) : resolve(child.pid)));
    });
    child.unref();
    return pid;
  } finally {
    closeSync(fd);
  }
}
