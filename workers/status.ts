import { formatAddress } from '../contracts/address.ts';
import { resolveAddress } from '../contracts/backend-resolution.ts';
import type { ClusterConfig } from '../contracts/config.ts';
import type { AuditRecord } from '../contracts/audit.ts';
import { queryAudit } from '../audit/read.ts';
// From their modules, not machines/index.ts: reading a snapshot must not load xstate (status starts faster).
import { backendViews, findDrift } from '../machines/views.ts';
import { callBudgetMs, type PcpNode, type PcpOps } from '../pcp/index.ts';
import type { RedisReads } from '../runtime/redis-reads.ts';
import { loadSnapshot } from './snapshot-store.ts';
import { backendListMismatches } from './backend-list.ts';
import { attachedness } from '../contracts/pgpool-node.ts';

export interface BackendStatus {
  address: string;
  machine: string | null;
  pending: { actionId: string; type: string } | null;
  pgpool: { nodeId: number; status: string; role: string } | null;
  drift: string | null;
  /** Replication delay as pgpool reports it (standbys), e.g. "0 bytes" or "1.2 s". */
  lag: string | null;
  maintenance: { since: string; by: string; reason: string } | null;
  /** Why the backend is in attention: the action that gave up and its reason. */
  attention: string | null;
  /** What each pgpool shows for this backend ("up/primary"; null = that pgpool did not answer), by endpoint. */
  views: Record<string, string | null>;
  /** The pgpools that answered do not all show the same status/role for it. */
  disagreement: boolean;
}

export interface PgpoolStatus {
  endpoint: string;
  reachable: boolean;
  watchdogRole: string | null;
  leader: string | null;
  error: string | null;
}

export interface ClusterStatus {
  cluster: string;
  version: string | null;
  pgpoolEndpoint: string | null;
  pgpoolError: string | null;
  /** Every configured PCP endpoint (pgpool), reachable or not, with its watchdog role. */
  pgpools: PgpoolStatus[];
  /** The endpoint of the watchdog leader when one answered. */
  leader: string | null;
  backends: BackendStatus[];
  /** Config vs pgpool's backend list: each backend only one side knows. */
  warnings: string[];
  lastAudit: AuditRecord[];
}

/** Machine state next to pgpool's live view, for `pcpflow status` and the console. */
export async function clusterStatus(cluster: ClusterConfig, redis: RedisReads, prefix: string, pcp: PcpOps, auditCount = 5): Promise<ClusterStatus> {
  const [state, live, audit] = await Promise.all([
    loadSnapshot(redis, prefix, cluster.name),
    pcp.pgpools({ deadlineMs: callBudgetMs(cluster) }).then(
      (r) => ({ ok: true as const, ...r }),
      (err: unknown) => ({ ok: false as const, error: err instanceof Error ? err.message : String(err) }),
    ),
    queryAudit(redis, prefix, cluster.name, { limit: auditCount }),
  ]);
  const views = state ? backendViews(state.snapshot) : [];
  const ref = live.ok ? (live.authoritative ?? live.pgpools.find((p) => p.reachable) ?? null) : null;
  const nodes: PcpNode[] = ref?.nodes ?? [];
  const drift = state && ref ? findDrift(state.snapshot, nodes) : [];
  const pgpools = live.ok ? live.pgpools : [];
  const maintenance = (state?.snapshot.maintenance ?? []).map(({ backend, since, by, reason }) => ({ backend, since, by, reason }));
  const addresses = views.length ? views.map((v) => v.address) : cluster.backends.map((b) => formatAddress({ host: b.address, port: b.port }));
  return {
    cluster: cluster.name,
    version: state?.version ?? null,
    pgpoolEndpoint: ref?.endpoint ?? null,
    pgpoolError: live.ok ? (ref ? null : pgpools.map((p) => `${p.endpoint}: ${p.error ?? '?'}`).join('; ')) : live.error,
    pgpools: pgpools.map((p) => ({ endpoint: p.endpoint, reachable: p.reachable, watchdogRole: p.watchdogRole, leader: p.leader, error: p.error })),
    leader: pgpools.find((p) => p.watchdogRole === 'LEADER')?.endpoint ?? null,
    backends: addresses.map((address) => {
      const view = views.find((v) => v.address === address);
      const node = pgpoolNodeOf(cluster, addresses, nodes, address);
      const d = drift.find((x) => x.backend === address);
      const gaveUp = view?.state === 'attention' ? state?.snapshot.backends.find((b) => b.context.address === address)?.context.gaveUp : null;
      const perPgpool: Record<string, string | null> = {};
      for (const p of pgpools) {
        const n = p.nodes ? pgpoolNodeOf(cluster, addresses, p.nodes, address) : undefined;
        perPgpool[p.endpoint] = p.nodes ? (n ? `${n.status}/${n.role}` : 'absent') : null;
      }
      const seen = Object.values(perPgpool).filter((v): v is string => v !== null);
      const disagreement = new Set(seen.map((v) => { const [st, role] = v.split('/'); return `${attachedness(st ?? '')}/${role ?? ''}`; })).size > 1;
      return {
        address,
        machine: view?.state ?? null,
        pending: view?.pending ? { actionId: view.pending.actionId, type: view.pending.type } : null,
        pgpool: node ? { nodeId: node.id, status: node.status, role: node.role } : null,
        drift: d ? `pgpool shows ${d.observed.status}/${d.observed.role}, expected ${d.expected}` : null,
        lag: node ? lagOf(node) : null,
        maintenance: maintenance.find((m) => m.backend === address) ?? null,
        attention: gaveUp ? `${gaveUp.type} ${gaveUp.actionId} gave up: ${gaveUp.reason}` : null,
        views: perPgpool,
        disagreement,
      };
    }),
    warnings: live.ok ? backendListMismatches(cluster, nodes) : [],
    lastAudit: audit.map((a) => a.record),
  };
}

function lagOf(n: PcpNode): string | null {
  if (n.role === 'primary' || n.replicationDelay === undefined) return null;
  return n.replicationDelayUnit === 'microseconds' ? `${(n.replicationDelay / 1e6).toFixed(1)} s` : `${n.replicationDelay} bytes`;
}

/**
 * One line for a monitoring system (`pcpflow status --check`, Nagios-style) and its verdict:
 * in step, or what is wrong (drift, attention, pgpool or an endpoint unreachable, no state yet).
 */
export function checkLine(statuses: readonly ClusterStatus[]): { ok: boolean; line: string } {
  const problems: string[] = [];
  let backends = 0;
  for (const s of statuses) {
    if (s.pgpoolError !== null) problems.push(`${s.cluster}: pgpool unreachable (${s.pgpoolError.slice(0, 120)})`);
    for (const p of s.pgpools) if (!p.reachable && s.pgpoolError === null) problems.push(`${s.cluster}: pgpool ${p.endpoint} unreachable`);
    if (s.version === null) problems.push(`${s.cluster}: no decision state yet (is a decider running?)`);
    for (const b of s.backends) {
      backends++;
      if (b.attention) problems.push(`${s.cluster} ${b.address} in attention (${b.attention.slice(0, 120)})`);
      else if (b.drift && !b.pending) problems.push(`${s.cluster} ${b.address} drift: ${b.drift}${b.maintenance ? ' (in maintenance)' : ''}`);
    }
  }
  if (problems.length === 0) {
    const held = statuses.flatMap((s) => s.backends.filter((b) => b.maintenance)).length;
    return { ok: true, line: `OK: ${statuses.length} cluster(s), ${backends} backend(s) in step with pgpool${held ? `, ${held} in maintenance` : ''}` };
  }
  return { ok: false, line: `CRITICAL: ${problems.join('; ')}` };
}

/**
 * pgpool's node for a backend: by its pinned nodeId when the config has one (pgpool may know the
 * host by another name), else the node whose host:port the one resolution rule maps to it.
 */
function pgpoolNodeOf(cluster: ClusterConfig, addresses: readonly string[], nodes: readonly PcpNode[], address: string): PcpNode | undefined {
  const pinned = cluster.backends.find((b) => formatAddress({ host: b.address, port: b.port }) === address)?.nodeId;
  if (pinned !== undefined) return nodes.find((n) => n.id === pinned);
  return nodes.find((n) => {
    const r = resolveAddress(addresses, formatAddress({ host: n.host, port: n.port }));
    return r.kind === 'match' && r.address === address;
  });
}
