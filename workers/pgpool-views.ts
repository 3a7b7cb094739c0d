import { formatAddress } from '../contracts/address.ts';
import type { PcpNode, PgpoolsView } from '../pcp/index.ts';
import type { AuditStore } from '../audit/store.ts';
import { keys } from '../contracts/keys.ts';
import type { Logger } from '../runtime/logger.ts';
import type { RedisClient } from '../runtime/redis.ts';
import type { Metrics } from './metrics.ts';
import { attachedness } from '../contracts/pgpool-node.ts';

/** A backend on which one pgpool's table differs from the authoritative (leader's) one. */
export interface PgpoolDifference {
  endpoint: string;
  backend: string;
  seen: string;
  referenceEndpoint: string;
  reference: string;
}

const show = (n: PcpNode | undefined): string => (n ? `${attachedness(n.status)}/${n.role}` : 'absent');

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

export interface ViewAuditDeps {
  cluster: string;
  redis: RedisClient;
  prefix: string;
  logger: Logger;
  metrics?: Metrics;
  audit?: AuditStore;
}

/**
 * Each pgpool's table against the authoritative one (the watchdog leader's): a change in what
 * differs is audited once, naming each pgpool, and so is the return to agreement. pcpflow does
 * not act on a standby pgpool's copy: the watchdog syncs it from the leader. Returns the differences.
 */
export async function auditPgpoolViews(deps: ViewAuditDeps, view: PgpoolsView<PcpNode>): Promise<PgpoolDifference[]> {
  if (view.pgpools.length < 2) return [];
  const { cluster } = deps;
  const diff = pgpoolDifferences(view);
  const now = Date.now() / 1000;
  for (const endpoint of new Set(diff.map((d) => d.endpoint))) deps.metrics?.pgpoolLastDisagreement.set({ cluster, endpoint }, now);
  const signature = diff.map((d) => `${d.endpoint}|${d.backend}|${d.seen}|${d.reference}`).sort().join(';');
  const key = keys.pgpoolViews(deps.prefix, cluster);
  // GETSET: of two workers seeing the same change, only the one that swaps the value audits it.
  const previous = (await deps.redis.getset(key, signature)) ?? '';
  if (previous === signature) return diff;
  if (diff.length) deps.logger.warn({ cluster, diff }, 'pgpools disagree about the backends');
  if (!deps.audit) return diff;
  const leader = view.authoritative?.endpoint ?? 'none';
  const note = diff.length
    ? `The pgpools disagree: ${diff.map((d) => `${d.endpoint} shows ${d.backend} ${d.seen} where ${d.referenceEndpoint} shows ${d.reference}`).join('; ')}. ` +
      `pcpflow follows the watchdog leader (${leader}); a standby pgpool takes the leader's backend status when it joins the watchdog, so a difference that stays means that pgpool is cut off from the leader: restart it.`
    : `Every reachable pgpool shows the same backends again (${view.pgpools.filter((p) => p.reachable).map((p) => p.endpoint).join(', ')}; leader ${leader}).`;
  await deps.audit.append(cluster, [
    { kind: 'drift', cluster, at: new Date().toISOString(), backend: diff[0]?.backend ?? null, endpoint: diff[0]?.endpoint ?? leader, note: note.slice(0, 2000) },
  ]);
  return diff;
}
