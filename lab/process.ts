import { readFileSync, readdirSync } from 'node:fs';
import { pollUntil } from './wait.ts';

/**
 * Signals go only to processes the lab started, identified by pid, and only after /proc confirms
 * the pid still runs the program we started (a pid can be reused after a crash or a reboot;
 * killing a stranger's process would be far worse than leaving ours).
 */

export type ProcessKind = 'postgres' | 'pgpool' | 'redis';

const COMM: Record<ProcessKind, RegExp> = {
  postgres: /^postgres/,
  pgpool: /^pgpool/,
  redis: /^redis-server/,
};

interface Stat {
  comm: string;
  state: string;
  ppid: number;
  pgid: number;
  /** Clock ticks since boot at which it started: with the pid, a process's identity. */
  start: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const rest = text.slice(close + 2).split(' ');
    return {
      comm: text.slice(text.indexOf('(') + 1, close),
      state: rest[0] ?? '',
      ppid: Number(rest[1]),
      pgid: Number(rest[2]),
      start: Number(rest[19]),
    };
  } catch {
    return undefined;
  }
}

/** Alive and still the program we started (zombies count as gone). */
export function isOurs(pid: number, kind: ProcessKind): boolean {
  const st = readStat(pid);
  return st !== undefined && st.state !== 'Z' && COMM[kind].test(st.comm);
}

export function isAlive(pid: number): boolean {
  const st = readStat(pid);
  return st !== undefined && st.state !== 'Z';
}

export interface ProcessIdentity {
  pid: number;
  start: number;
}

/**
 * The live processes descended from `roots` (by parent pid) or in the process group of any of
 * `groups`. pgpool's children share its group; PostgreSQL's children each lead their own group,
 * so both are needed. A group id outlives its dead leader (the kernel does not hand out a pid still
 * in use as a group id), so orphans of a crashed pgpool are still found through it.
 */
export function familyOf(roots: readonly number[], groups: readonly number[] = roots): ProcessIdentity[] {
  const all = new Map<number, Stat>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = readStat(Number(entry));
    if (st && st.state !== 'Z') all.set(Number(entry), st);
  }
  const groupSet = new Set(groups);
  const family = new Set(roots.filter((p) => all.has(p)));
  for (const [pid, st] of all) if (groupSet.has(st.pgid)) family.add(pid);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, st] of all)
      if (!family.has(pid) && family.has(st.ppid)) {
        family.add(pid);
        grew = true;
      }
  }
  return [...family].map((pid) => ({ pid, start: all.get(pid)?.start ?? 0 }));
}

/** The members of a previously taken family that are still the same live processes. */
export function survivors(family: readonly ProcessIdentity[]): ProcessIdentity[] {
  return family.filter((p) => {
    const st = readStat(p.pid);
    return st !== undefined && st.state !== 'Z' && st.start === p.start;
  });
}

export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Stops one started process and everything it spawned: `graceful` to the process, then SIGKILL to
 * every survivor of its family if they have not all gone within graceMs. A pid that is no longer
 * ours is left alone.
 */
export async function stopProcess(pid: number, kind: ProcessKind, graceful: NodeJS.Signals, graceMs: number): Promise<void> {
  if (!isOurs(pid, kind)) return;
  const family = familyOf([pid]);
  signal(pid, graceful);
  const gone = async () => (survivors(family).length ? undefined : true);
  try {
    await pollUntil(`${kind} pid ${pid} and its children to exit`, gone, { timeoutMs: graceMs, intervalMs: 25 });
  } catch {
    for (const p of survivors(family)) signal(p.pid, 'SIGKILL');
    await pollUntil(`${kind} pid ${pid} and its children to die after SIGKILL`, gone, { timeoutMs: 10_000, intervalMs: 25 });
  }
}

/** Last resort for orphans (children of a recorded process that died on its own). */
export async function killSurvivors(family: readonly ProcessIdentity[]): Promise<void> {
  for (const p of survivors(family)) signal(p.pid, 'SIGKILL');
  await pollUntil('orphaned lab processes to die after SIGKILL', async () => (survivors(family).length ? undefined : true), {
    timeoutMs: 10_000,
    intervalMs: 25,
  });
}
