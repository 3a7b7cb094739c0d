import type { CallOptions, PcpDriver } from './driver.ts';
import type { WatchdogInfo } from './commands.ts';
import type { EachAnswer } from './views.ts';
import type { NodesAnswer } from './driver.ts';
import { attachedness } from '../contracts/pgpool-node.ts';

/** One pgpool of the cluster as pcpflow sees it now: reachable or not, its watchdog role, its node table. */
export interface PgpoolState<N> {
  endpoint: string;
  host: string;
  port: number;
  reachable: boolean;
  error: string | null;
  /** Its own watchdog state (LEADER, STANDBY, ...); null without a watchdog or when unreachable. */
  watchdogRole: string | null;
  /** The leader it believes in (host), or null. */
  leader: string | null;
  nodes: N[] | null;
}

export interface PgpoolsView<N> {
  pgpools: PgpoolState<N>[];
  /**
   * Whose node table counts when they differ: the watchdog leader's (the others sync from it),
   * else the only one that answered, else the first answer when every answer agrees; null when
   * they disagree and the leader did not answer (nothing should be repaired on such a view).
   */
  authoritative: PgpoolState<N> | null;
}

const key = (n: { id: number; status: string; role: string }): string => `${n.id}:${n.status}:${n.role}`;

export async function readPgpools<N extends { id: number; status: string; role: string }>(
  driver: PcpDriver,
  convert: (a: NodesAnswer) => N[],
  opts: CallOptions = {},
): Promise<PgpoolsView<N>> {
  if (!driver.nodesEach) {
    const a = await driver.nodes(opts);
    const only: PgpoolState<N> = { endpoint: a.endpoint, host: '', port: 0, reachable: true, error: null, watchdogRole: null, leader: null, nodes: convert(a.value) };
    return { pgpools: [only], authoritative: only };
  }
  const several = (driver.endpointCount ?? 1) > 1;
  const [nodes, wd] = await Promise.all([
    driver.nodesEach(opts),
    several && driver.watchdogEach ? driver.watchdogEach(opts) : Promise.resolve([] as EachAnswer<WatchdogInfo>[]),
  ]);
  const pgpools = nodes.map((a): PgpoolState<N> => {
    const w = wd.find((x) => x.host === a.host && x.port === a.port)?.value;
    const self = w?.WatchdogNodes[0];
    return {
      endpoint: a.endpoint,
      host: a.host,
      port: a.port,
      reachable: a.value !== undefined,
      error: a.error ?? null,
      watchdogRole: self?.StateName ?? null,
      leader: w && w.leaderHostName && w.leaderHostName !== 'Not Set' ? w.leaderHostName : null,
      nodes: a.value ? convert(a.value) : null,
    };
  });
  const answered = pgpools.filter((p) => p.nodes !== null);
  // The leader most pgpools name: right after a frozen leader thaws, it still calls itself
  // LEADER beside the one elected meanwhile, and its table is the stale one.
  const votes = new Map<string, number>();
  for (const p of answered) if (p.leader) votes.set(p.leader, (votes.get(p.leader) ?? 0) + 1);
  const [top] = [...votes.entries()].sort((a, b) => b[1] - a[1]);
  const named = top && top[1] * 2 > answered.length ? top[0] : undefined;
  const leader = named === undefined ? undefined : answered.find((p) => p.host === named && p.watchdogRole === 'LEADER');
  const tables = new Set(answered.map((p) => (p.nodes ?? []).map(key).join(',')));
  const authoritative = leader ?? (answered.length === 1 || tables.size === 1 ? (answered[0] ?? null) : null);
  return { pgpools, authoritative };
}

/** Backends whose status or role differ between the pgpools that answered, with each one's view. */
export function disagreements<N extends { id: number; status: string; role: string }>(view: PgpoolsView<N>): Map<number, { endpoint: string; seen: string }[]> {
  const out = new Map<number, { endpoint: string; seen: string }[]>();
  const answered = view.pgpools.filter((p) => p.nodes !== null);
  if (answered.length < 2) return out;
  const ids = new Set(answered.flatMap((p) => (p.nodes ?? []).map((n) => n.id)));
  for (const id of ids) {
    const seen = answered.map((p) => {
      const n = p.nodes?.find((x) => x.id === id);
      return { endpoint: p.endpoint, seen: n ? `${attachedness(n.status)}/${n.role}` : 'absent' };
    });
    if (new Set(seen.map((s) => s.seen)).size > 1) out.set(id, seen);
  }
  return out;
}

