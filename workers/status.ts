import { formatAddress, parseAddress } from '../contracts/address.ts';
import type { ClusterConfig } from '../contracts/config.ts';
import type { AuditRecord } from '../contracts/audit.ts';
import { AuditStore } from '../audit/store.ts';
import { backendViews, findDrift } from '../machines/index.ts';
import { callBudgetMs, type PcpNode, type PcpOps } from '../pcp/index.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { loadSnapshot } from './snapshot-store.ts';

export interface BackendStatus {
  address: string;
  machine: string | null;
  pending: { actionId: string; type: string } | null;
  pgpool: { nodeId: number; status: string; role: string } | null;
  drift: string | null;
}

export interface ClusterStatus {
  cluster: string;
  version: string | null;
  pgpoolEndpoint: string | null;
  pgpoolError: string | null;
  backends: BackendStatus[];
  lastAudit: AuditRecord[];
}

/** Machine state next to pgpool's live view, for `pcpflow status` and the console. */
export async function clusterStatus(cluster: ClusterConfig, redis: RedisClient, prefix: string, pcp: PcpOps, auditCount = 5): Promise<ClusterStatus> {
  const [state, live, audit] = await Promise.all([
    loadSnapshot(redis, prefix, cluster.name),
    pcp.nodes({ deadlineMs: callBudgetMs(cluster) }).then(
      (r) => ({ ok: true as const, ...r }),
      (err: unknown) => ({ ok: false as const, error: err instanceof Error ? err.message : String(err) }),
    ),
    new AuditStore(redis, prefix).query(cluster.name, { limit: auditCount }),
  ]);
  const views = state ? backendViews(state.snapshot) : [];
  const nodes: PcpNode[] = live.ok ? live.nodes : [];
  const drift = state && live.ok ? findDrift(state.snapshot, nodes) : [];
  const addresses = views.length ? views.map((v) => v.address) : cluster.backends.map((b) => formatAddress({ host: b.address, port: b.port }));
  return {
    cluster: cluster.name,
    version: state?.version ?? null,
    pgpoolEndpoint: live.ok ? live.endpoint : null,
    pgpoolError: live.ok ? null : live.error,
    backends: addresses.map((address) => {
      const view = views.find((v) => v.address === address);
      const parsed = parseAddress(address);
      const node = nodes.find((n) => n.host === parsed?.host && n.port === parsed.port);
      const d = drift.find((x) => x.backend === address);
      return {
        address,
        machine: view?.state ?? null,
        pending: view?.pending ? { actionId: view.pending.actionId, type: view.pending.type } : null,
        pgpool: node ? { nodeId: node.id, status: node.status, role: node.role } : null,
        drift: d ? `pgpool shows ${d.observed.status}/${d.observed.role}, expected ${d.expected}` : null,
      };
    }),
    lastAudit: audit.map((a) => a.record),
  };
}
