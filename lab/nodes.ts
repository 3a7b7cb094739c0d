import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from './errors.ts';
import { run, serviceUser } from './exec.ts';
import { bin, type LabPlan, type NodePlan } from './options.ts';
import { cloneStandby, postmasterPid, sql, startPostgres, stopPostgres, waitAcceptingSql, writeNodeConf } from './postgres.ts';
import { isOurs } from './process.ts';
import { forgetProcess, readState, recordProcess } from './state.ts';
import { pollUntil } from './wait.ts';

/**
 * What failover drills do to PostgreSQL behind pgpool's back, the way EFM would: kill a node,
 * promote a standby, re-point or rebuild the others. pgpool is never told here; that is pcpflow's
 * job. Nodes are named as in the plan (pg0, pg1, ...); the state file follows every pid change.
 */

export interface LabRef {
  dir: string;
}

function load(lab: LabRef, name: string): { plan: LabPlan; node: NodePlan; statePath: string } {
  const statePath = join(lab.dir, 'lab.json');
  const plan = readState(statePath).plan;
  const node = plan.nodes.find((n) => n.name === name || n.address === name || `${n.address}:${n.port}` === name);
  if (!node) throw new LabError(`lab ${plan.name} has no node "${name}"; nodes: ${plan.nodes.map((n) => n.name).join(', ')}`);
  return { plan, node, statePath };
}

export function isRunning(lab: LabRef, name: string): boolean {
  const { node } = load(lab, name);
  const pid = postmasterPid(node);
  return pid !== undefined && isOurs(pid, 'postgres');
}

/** immediate = a crash as EFM sees one (no shutdown checkpoint); otherwise a fast, clean stop. */
export async function stopNode(lab: LabRef, name: string, opts: { immediate?: boolean } = {}): Promise<void> {
  const { plan, node, statePath } = load(lab, name);
  if (isRunning(lab, name)) await stopPostgres(plan, node, opts.immediate ? 'immediate' : 'fast');
  forgetProcess(statePath, node.name);
}

export async function startNode(lab: LabRef, name: string): Promise<number> {
  const { plan, node, statePath } = load(lab, name);
  if (isRunning(lab, name)) return postmasterPid(node) ?? 0;
  const pid = await startPostgres(plan, node);
  recordProcess(statePath, node.name, 'postgres', pid);
  await waitAcceptingSql(plan, node);
  return pid;
}

export async function isInRecovery(lab: LabRef, name: string): Promise<boolean> {
  const { node } = load(lab, name);
  return (await sql(node, 'select pg_is_in_recovery()')) === 't';
}

/** The timeline the node writes (primary) or replays (standby) now. */
export async function timelineOf(lab: LabRef, name: string): Promise<number> {
  const { node } = load(lab, name);
  const hex = await sql(
    node,
    'select case when pg_is_in_recovery() then (select received_tli::text from pg_stat_wal_receiver) ' +
      "else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int::text end",
  );
  return Number(hex);
}

/**
 * pg_ctl promote, wait until it leaves recovery, then CHECKPOINT: until that checkpoint the new
 * timeline is not in pg_control and pg_rewind against this node says "no rewind required".
 */
export async function promoteNode(lab: LabRef, name: string): Promise<void> {
  const { plan, node } = load(lab, name);
  await run([bin(plan.pgBinDir, 'pg_ctl'), 'promote', '-w', '-D', node.dataDir], { cwd: plan.dir, timeoutMs: plan.stepTimeoutMs });
  await pollUntil(`${node.name} to leave recovery`, async () => ((await sql(node, 'select pg_is_in_recovery()')) === 'f' ? true : undefined), {
    timeoutMs: plan.stepTimeoutMs,
    logHint: node.logFile,
  });
  await sql(node, 'checkpoint');
}

/**
 * Streaming from `primary` on the primary's current timeline, seen on two polls at least 300 ms
 * apart: right after a start the walreceiver can report streaming once before it finds it is on a
 * forked timeline and restarts.
 */
export async function waitStreaming(lab: LabRef, name: string, primaryName: string): Promise<void> {
  const { plan, node } = load(lab, name);
  const { node: primary } = load(lab, primaryName);
  let firstSeen: number | undefined;
  await pollUntil(
    `${node.name} to stream from ${primary.name}`,
    async () => {
      const tli = await timelineOf(lab, primary.name);
      const row = await sql(
        node,
        "select coalesce((select status || ':' || received_tli || ':' || sender_host from pg_stat_wal_receiver), 'none')",
      );
      if (row !== `streaming:${tli}:${primary.address}`) {
        firstSeen = undefined;
        return undefined;
      }
      firstSeen ??= Date.now();
      return Date.now() - firstSeen >= 300 ? true : undefined;
    },
    { timeoutMs: plan.stepTimeoutMs, intervalMs: 100, logHint: node.logFile },
  );
}

function conninfo(primary: NodePlan, standby: NodePlan): string {
  return `host=${primary.address} port=${primary.port} user=postgres application_name=${standby.name}`;
}

/** A running standby follows a new primary: primary_conninfo is reloadable since PostgreSQL 13. */
export async function repointStandby(lab: LabRef, name: string, newPrimary: string): Promise<void> {
  const { node } = load(lab, name);
  const { node: primary } = load(lab, newPrimary);
  await sql(node, `alter system set primary_conninfo = '${conninfo(primary, node)}'`);
  await sql(node, 'select pg_reload_conf()');
  await waitStreaming(lab, name, newPrimary);
}

/**
 * Turns a node (typically the failed old primary) into a standby of newPrimary: stop it, pg_rewind
 * (fresh pg_basebackup if rewind is not possible), restore its own node.conf, start, wait streaming.
 */
export async function rebuildAsStandby(
  lab: LabRef,
  name: string,
  newPrimary: string,
  opts: { method?: 'auto' | 'rewind' | 'basebackup' } = {},
): Promise<'rewind' | 'basebackup'> {
  const { plan, node } = load(lab, name);
  const { node: primary } = load(lab, newPrimary);
  const method = opts.method ?? 'auto';
  await stopNode(lab, name, { immediate: true });
  let used: 'rewind' | 'basebackup' = 'basebackup';
  if (method !== 'basebackup') {
    try {
      await run(
        [
          bin(plan.pgBinDir, 'pg_rewind'),
          '--target-pgdata', node.dataDir,
          '--source-server', `${conninfo(primary, node)} dbname=postgres`,
          '--write-recovery-conf', '--no-sync',
        ],
        { cwd: plan.dir, timeoutMs: plan.stepTimeoutMs },
      );
      writeNodeConf(node);
      const user = await serviceUser();
      if (user) await run(['chown', `${user.uid}:${user.gid}`, join(node.dataDir, 'node.conf')], { as: null });
      used = 'rewind';
    } catch (err) {
      if (method === 'rewind') throw err;
    }
  }
  if (used === 'basebackup') {
    rmSync(node.dataDir, { recursive: true, force: true });
    await cloneStandby(plan, node, primary);
  }
  await startNode(lab, name);
  await waitStreaming(lab, name, newPrimary);
  return used;
}

/** For drills that must not outrun PostgreSQL: a row written on the primary is visible on `name`. */
export async function waitReplayed(lab: LabRef, name: string, primaryName: string): Promise<void> {
  const { plan, node } = load(lab, name);
  const { node: primary } = load(lab, primaryName);
  const lsn = await sql(primary, 'select pg_current_wal_lsn()');
  await pollUntil(
    `${node.name} to replay up to ${lsn}`,
    async () => ((await sql(node, `select pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn`)) === 't' ? true : undefined),
    { timeoutMs: plan.stepTimeoutMs, intervalMs: 50 },
  );
}
