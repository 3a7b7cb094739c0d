import type { ClusterConfig } from '../contracts/config.ts';
import { NativeDriver, PcpError, type WatchdogInfo } from '../pcp/index.ts';
import { pgpoolsOf, type LabPlan, type PgpoolPlan } from './options.ts';
import { labConfig } from './pcpflow-config.ts';
import { pollUntil } from './wait.ts';

/** One pgpool's answer to `pcp_watchdog_info`, or why it gave none. */
export interface WatchdogView {
  pgpool: string;
  endpoint: string;
  info: WatchdogInfo | null;
  error: string | null;
}

/** PCP to this one pgpool only (no failover to the others: the lab wants this pgpool's own view). */
export function clusterFor(plan: LabPlan, me: PgpoolPlan): ClusterConfig {
  const cluster = labConfig(plan).clusters[0];
  if (!cluster) throw new Error('lab config has no cluster');
  const endpoints = cluster.pcp.endpoints.filter((e) => e.host === me.host && e.port === me.pcpPort);
  return { ...cluster, pcp: { ...cluster.pcp, endpoints }, timeouts: { ...cluster.timeouts, connectMs: 1_000, readMs: 2_000 } };
}

export async function watchdogViews(plan: LabPlan): Promise<WatchdogView[]> {
  return Promise.all(
    pgpoolsOf(plan).map(async (p) => {
      const endpoint = `${p.host}:${p.pcpPort}`;
      try {
        const info = (await new NativeDriver(clusterFor(plan, p)).watchdog()).value;
        return { pgpool: p.role, endpoint, info, error: null };
      } catch (err) {
        if (!(err instanceof PcpError)) throw err;
        return { pgpool: p.role, endpoint, info: null, error: err.message };
      }
    }),
  );
}

/** The leader every answering pgpool agrees on, with full membership and quorum; else undefined. */
export function agreedLeader(views: readonly WatchdogView[], expectMembers: number): string | undefined {
  const infos = views.map((v) => v.info).filter((i): i is WatchdogInfo => i !== null);
  if (infos.length !== expectMembers) return undefined;
  const leaders = new Set(infos.map((i) => i.leaderHostName));
  const [leader] = [...leaders];
  if (leaders.size !== 1 || !leader || leader === 'Not Set') return undefined;
  const settled = infos.every((i) => i.QuorumStatus === 1 && i.AliveNodeCount === i.RemoteNodeCount && i.RemoteNodeCount === expectMembers - 1);
  return settled ? leader : undefined;
}

/** Until every running pgpool agrees on one leader and sees every other member alive. */
export async function waitWatchdogSettled(plan: LabPlan, opts: { members?: number; timeoutMs?: number } = {}): Promise<string> {
  const members = opts.members ?? pgpoolsOf(plan).length;
  return pollUntil(
    `the ${members} pgpools' watchdog to elect one leader with every member alive`,
    async () => {
      const views = await watchdogViews(plan);
      return agreedLeader(
        views.filter((v) => v.info !== null),
        members,
      );
    },
    { timeoutMs: opts.timeoutMs ?? plan.stepTimeoutMs, intervalMs: 200, logHint: plan.paths.pgpoolLog },
  );
}

/** Human lines for `lab status`: leader, standbys, quorum as each pgpool sees them. */
export function formatWatchdog(views: readonly WatchdogView[]): string[] {
  const quorum: Record<string, string> = { '1': 'quorum exists', '0': 'quorum on the edge', '-1': 'quorum absent', '-2': 'no leader' };
  return views.map((v) => {
    if (!v.info) return `  ${v.pgpool.padEnd(8)} ${v.endpoint.padEnd(20)} unreachable: ${v.error ?? '?'}`;
    const i = v.info;
    const self = i.WatchdogNodes[0];
    const standbys = i.WatchdogNodes.filter((n) => n.StateName === 'STANDBY').map((n) => n.HostName);
    return (
      `  ${v.pgpool.padEnd(8)} ${v.endpoint.padEnd(20)} ${(self?.StateName ?? '?').padEnd(9)} leader ${i.leaderHostName || '-'}, ` +
      `standbys ${standbys.join(', ') || '-'}, ${quorum[String(i.QuorumStatus)] ?? `quorum ${i.QuorumStatus}`}, ${i.AliveNodeCount}/${i.RemoteNodeCount} remote alive`
    );
  });
}
