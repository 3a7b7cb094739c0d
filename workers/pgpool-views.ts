import { formatAddress } from '../contracts/address.ts';
import type { PcpNode, PgpoolsView } from '../pcp/index.ts';
import type { Metrics } from './metrics.ts';

/** A backend on which one pgpool's table differs from the authoritative (leader's) one. */
export interface PgpoolDifference {
  endpoint: string;
  backend: string;
  seen: string;
  referenceEndpoint: string;
  reference: string;
}

const attached = (s: string): string => (s === 'up' || s === 'waiting' ? 'up' : s);
const show = (n: PcpNode | undefined): string => (n ? `${attached(n.status)}/${n.role}` : 'absent');

/** Differences of every other reachable pgpool from the authoritative one (up and waiting count as the same). */
export function pgpoolDifferences(view: PgpoolsView<PcpNode>): PgpoolDifference[] {
  const ref = view.authoritative;
  if (!ref?.nodes) return [];
  const out: PgpoolDifference[] = [];
  for (const p of view.pgpools) {
    if (p === ref || !p.nodes) continue;
    for (const r of ref.nodes) {
      const mine = p.nodes.find((n) => n.id === r.id);
      if (show(mine) === show(r)) continue;
      out.push({ endpoint: p.endpoint, backend: formatAddress({ host: r.host, port: r.port }), seen: show(mine), referenceEndpoint: ref.endpoint, reference: show(r) });
    }
  }
  return out;
}

const ROLES = ['LEADER', 'STANDBY', 'JOINING', 'INITIALIZING', 'LOST', 'SHUTDOWN', 'DEAD', 'NETWORK ISOLATION', 'none'];

/** Per endpoint: reachable, and its own watchdog state (one series set to 1). */
export function recordPgpoolMetrics(metrics: Metrics, cluster: string, view: PgpoolsView<PcpNode>): void {
  for (const p of view.pgpools) {
    metrics.pgpoolReachable.set({ cluster, endpoint: p.endpoint }, p.reachable ? 1 : 0);
    const role = p.watchdogRole ?? 'none';
    for (const r of new Set([...ROLES, role])) metrics.pgpoolWatchdogRole.set({ cluster, endpoint: p.endpoint, role: r }, r === role ? 1 : 0);
  }
}
