import type { AuditStore } from '../audit/store.ts';
import { describeProblem } from '../audit/chain.ts';
import type { AuditRecord } from '../contracts/audit.ts';
import type { ClusterConfig } from '../contracts/config.ts';
import { parseHistory, renderDiagram, type HistoryStep } from '../diagrams/index.ts';
import type { PcpOps } from '../pcp/index.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { clusterStatus, type BackendStatus, type ClusterStatus } from '../workers/status.ts';
import type { TimeRange } from './range.ts';
import { buildTimeline, type Episode } from './timeline.ts';
import { inlineSvg } from './svg.ts';
import { incidentView, type IncidentView } from './incident.ts';
import { formatAddress } from '../contracts/address.ts';

export { inlineSvg };

/** Everything a backend page (and its export) shows, gathered in one place, read-only. */
export interface BackendData {
  cluster: string;
  address: string;
  status: ClusterStatus;
  backend: BackendStatus | null;
  range: TimeRange;
  records: AuditRecord[];
  episodes: Episode[];
  steps: HistoryStep[];
  svg: string;
  chain: { ok: boolean; checked: number; problems: string[] };
}

export interface DataDeps {
  redis: RedisClient;
  prefix: string;
  audit: AuditStore;
  pcpFor: (c: ClusterConfig) => PcpOps;
  layout: () => Promise<(dot: string) => string>;
}

export function overview(deps: DataDeps, clusters: readonly ClusterConfig[]): Promise<ClusterStatus[]> {
  return Promise.all(clusters.map((c) => clusterStatus(c, deps.redis, deps.prefix, deps.pcpFor(c))));
}

/** null when the backend is neither configured, nor in the snapshot, nor in the audit trail. */
export async function backendData(deps: DataDeps, cluster: ClusterConfig, address: string, range: TimeRange): Promise<BackendData | null> {
  const [status, stored, verify] = await Promise.all([
    clusterStatus(cluster, deps.redis, deps.prefix, deps.pcpFor(cluster)),
    deps.audit.query(cluster.name, { backend: address, ...(range.since ? { since: range.since } : {}) }),
    deps.audit.verify(cluster.name),
  ]);
  const backend = status.backends.find((b) => b.address === address) ?? null;
  const until = range.until?.getTime();
  const records = stored.map((s) => s.record).filter((r) => until === undefined || Date.parse(r.at) <= until);
  if (!backend && records.length === 0) return null;
  const history = parseHistory(records.map((r) => JSON.stringify(r)).join('\n'), address);
  const steps = history.backend === address ? history.steps : [];
  const svg = await renderDiagram({ format: 'svg', history: steps, backend: address, layout: await deps.layout() });
  return {
    cluster: cluster.name,
    address,
    status,
    backend,
    range,
    records,
    episodes: buildTimeline(records),
    steps,
    svg: inlineSvg(svg),
    chain: { ok: verify.ok, checked: verify.checked, problems: verify.problems.map(describeProblem) },
  };
}

/**
 * A cluster's incident view over a range. Every record is read (the state before the range and
 * pgpool's view then come from earlier records) and the picture is clipped to the range. A preset
 * range starts at the first record inside it, so a fresh cluster's timeline is not one pixel wide.
 */
export async function clusterView(deps: DataDeps, cluster: ClusterConfig, range: TimeRange, now: Date = new Date()): Promise<IncidentView> {
  const records = (await deps.audit.query(cluster.name)).map((s) => s.record);
  const times = records.map((r) => Date.parse(r.at));
  const to = range.until?.getTime() ?? now.getTime();
  const inside = times.filter((t) => (range.since === null || t >= range.since.getTime()) && t <= to);
  const from = range.preset === 'custom' && range.since ? range.since.getTime() : Math.max(range.since?.getTime() ?? 0, Math.min(...inside, to - 60_000) - 2_000);
  return incidentView({
    cluster: cluster.name,
    records,
    from,
    to: Math.max(to, from + 1000),
    backends: cluster.backends.map((b) => formatAddress({ host: b.address, port: b.port })),
    layout: await deps.layout(),
  });
}
