import { join } from 'node:path';
import { LabError } from './errors.ts';
import { pgpoolsOf, type LabPlan, type PgpoolPlan } from './options.ts';
import { pcpNodeInfo, startPgpool } from './pgpool.ts';
import { familyOf, isOurs, signal, stopProcess, survivors } from './process.ts';
import { forgetProcess, readState, recordProcess } from './state.ts';
import { pollUntil } from './wait.ts';

/**
 * What drills and tests do to one pgpool of a watchdog cluster: stop it cleanly, lose its host
 * (the whole process group killed at once), freeze it (SIGSTOP: its sockets still accept, nothing
 * answers) and thaw it, restart it with or without the node status it saved. Named by role
 * (`pgpool`, `pgpool1`, ...), its index (0, 1, ...) or its address. Signals go by recorded pid only.
 */

export interface LabRef {
  dir: string;
}

function load(lab: LabRef, which: string | number): { plan: LabPlan; me: PgpoolPlan; statePath: string; pid: number | undefined } {
  const statePath = join(lab.dir, 'lab.json');
  const state = readState(statePath);
  const all = pgpoolsOf(state.plan);
  const me = all.find((p) => p.index === which || p.role === which || p.host === which || `pgpool${p.index}` === which);
  if (!me) throw new LabError(`lab ${state.plan.name} has no pgpool "${String(which)}"; pgpools: ${all.map((p) => p.role).join(', ')}`);
  const rec = state.processes[me.role];
  const pid = rec && isOurs(rec.pid, 'pgpool') ? rec.pid : undefined;
  return { plan: state.plan, me, statePath, pid };
}

export function pgpoolPid(lab: LabRef, which: string | number): number | undefined {
  return load(lab, which).pid;
}

/** Clean stop (SIGINT, pgpool's fast shutdown): the others see it leave the watchdog cluster. */
export async function stopPgpool(lab: LabRef, which: string | number): Promise<void> {
  const { me, statePath, pid } = load(lab, which);
  if (pid !== undefined) await stopProcess(pid, 'pgpool', 'SIGINT', 10_000);
  forgetProcess(statePath, me.role);
}

/**
 * A host loss: SIGKILL to every process of this pgpool at once. Killing only the main process
 * would leave its children holding the ports and sending heartbeats (research notes).
 */
export async function killPgpool(lab: LabRef, which: string | number): Promise<void> {
  const { me, statePath, pid } = load(lab, which);
  if (pid !== undefined) {
    const family = familyOf([pid]);
    for (const p of family) signal(p.pid, 'SIGKILL');
    await pollUntil(`${me.role} (pid ${pid}) and its children to die`, async () => (survivors(family).length ? undefined : true), { timeoutMs: 10_000, intervalMs: 20 });
  }
  forgetProcess(statePath, me.role);
}

/** SIGSTOP to every process of this pgpool: connections are accepted by the kernel, never answered. */
export function freezePgpool(lab: LabRef, which: string | number): void {
  const { me, pid } = load(lab, which);
  if (pid === undefined) throw new LabError(`${me.role} is not running; nothing to freeze`);
  for (const p of familyOf([pid])) signal(p.pid, 'SIGSTOP');
}

export function thawPgpool(lab: LabRef, which: string | number): void {
  const { me, pid } = load(lab, which);
  if (pid === undefined) throw new LabError(`${me.role} is not running; nothing to thaw`);
  for (const p of familyOf([pid])) signal(p.pid, 'SIGCONT');
}

/**
 * Starts a stopped pgpool again. keepStatus = without -D: it starts from the backend states it
 * saved in pgpool_status when it stopped (a stale view if a failover happened meanwhile).
 * Resolves once it answers PCP; its view may still be anything.
 */
export async function startPgpoolAgain(lab: LabRef, which: string | number, opts: { keepStatus?: boolean } = {}): Promise<number> {
  const { plan, me, statePath, pid } = load(lab, which);
  if (pid !== undefined) return pid;
  const fresh = await startPgpool(plan, me, opts);
  recordProcess(statePath, me.role, 'pgpool', fresh);
  await pollUntil(
    `${me.role} to answer PCP on ${me.host}:${me.pcpPort}`,
    async () => {
      if (!isOurs(fresh, 'pgpool')) throw new LabError(`${me.role} exited during start; see ${me.log}`);
      return waitPgpoolReadyOnce(plan, me);
    },
    { timeoutMs: plan.stepTimeoutMs, intervalMs: 100, logHint: me.log },
  );
  return fresh;
}

async function waitPgpoolReadyOnce(plan: LabPlan, me: PgpoolPlan): Promise<true | undefined> {
  return pcpNodeInfo(plan, 2_000, me).then(
    (lines) => (lines.length === plan.nodes.length ? true : undefined),
    () => undefined,
  );
}
