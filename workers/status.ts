import { formatAddress, parseAddress } from '../contracts/address.ts';
import type { ClusterConfig } from '../contracts/config.ts';
import type { AuditRecord } from '../contracts/audit.ts';
import { AuditStore } from '../audit/store.ts';
import { backendViews, findDrift } from '../machines/index.ts';
import type { PcpNode, PcpOps } from '../pcp/index.ts';
import { probeEndpoints } from '../pcp/probe.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { loadSnapshot } from './snapshot-store.ts';

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
}

export interface EndpointStatus {
  endpoint: string;
  reachable: boolean;
  error: string | null;
}

export interface ClusterStatus {
  cluster: string;
  version: string | null;
  pgpoolEndpoint: string | null;
  pgpoolError: string | null;
  /** Each configured PCP endpoint on its own: one down behind a VIP that answers still shows. */
  endpoints: EndpointStatus[];
  backends: BackendStatus[];
  lastAudit: AuditRecord[];
}

/** Machine state next to pgpool's live view, for `pcpflow status` and the console. */
export async function clusterStatus(cluster: ClusterConfig, redis: RedisClient, prefix: string, pcp: PcpOps, auditCount = 5): Promise<ClusterStatus> {
  const [state, live, audit] = await Promise.all([
    loadSnapshot(redis, prefix, cluster.name),
    pcp.nodes().then(
      (r) => ({ ok: true as const, ...r }),
      (err: unknown) => ({ ok: false as const, error: err instanceof Error ? err.message : String(err) }),
    ),
    new AuditStore(redis, prefix).query(cluster.name, { limit: auditCount }),
  ]);
  const endpoints: EndpointStatus[] =
    cluster.pcp.endpoints.length > 1
      ? (await probeEndpoints(cluster)).map(({ endpoint, reachable, error }) => ({ endpoint, reachable, error }))
      : [{ endpoint: live.ok ? live.endpoint : (cluster.pcp.endpoints[0] ? formatAddress({ host: cluster.pcp.endpoints[0].host, port: cluster.pcp.endpoints[0].port }) : '-'), reachable: live.ok, error: live.ok ? null : live.error }];
  const views = state ? backendViews(state.snapshot) : [];
  const nodes: PcpNode[] = live.ok ? live.nodes : [];
  const drift = state && live.ok ? findDrift(state.snapshot, nodes) : [];
  const maintenance = (state?.snapshot.maintenance ?? []).map(({ backend, since, by, reason }) => ({ backend, since, by, reason }));
  const addresses = views.length ? views.map((v) => v.address) : cluster.backends.map((b) => formatAddress({ host: b.address, port: b.port }));
  return {
    cluster: cluster.name,
    version: state?.version ?? null,
    pgpoolEndpoint: live.ok ? live.endpoint : null,
    pgpoolError: live.ok ? null : live.error,
    endpoints,
    backends: addresses.map((address) => {
      const view = views.find((v) => v.address === address);
      const parsed = parseAddress(address);
      const node = nodes.find((n) => n.host === parsed?.host && n.port === parsed.port);
      const d = drift.find((x) => x.backend === address);
      const gaveUp = view?.state === 'attention' ? state?.snapshot.backends.find((b) => b.context.address === address)?.context.gaveUp : null;
      return {
        address,
        machine: view?.state ?? null,
        pending: view?.pending ? { actionId: view.pending.actionId, type: view.pending.type } : null,
        pgpool: node ? { nodeId: node.id, status: node.status, role: node.role } : null,
        drift: d ? `pgpool shows ${d.observed.status}/${d.observed.role}, expected ${d.expected}` : null,
        lag: node ? lagOf(node) : null,
        maintenance: maintenance.find((m) => m.backend === address) ?? null,
        attention: gaveUp ? `${gaveUp.type} ${gaveUp.actionId} gave up: ${gaveUp.reason}` : null,
      };
    }),
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
    for (const e of s.endpoints) if (!e.reachable && s.pgpoolError === null) problems.push(`${s.cluster}: PCP endpoint ${e.endpoint} unreachable`);
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
