import type { ClusterConfig } from '../contracts/config.ts';
import type { NodeEvent } from '../contracts/events.ts';
import { keys } from '../contracts/keys.ts';
import { findDrift } from '../machines/index.ts';
import { callBudgetMs, type PcpNode, type PcpOps, type PgpoolsView } from '../pcp/index.ts';
import type { AuditStore } from '../audit/store.ts';
import { auditPgpoolViews, recordPgpoolMetrics } from './pgpool-views.ts';
import type { Logger } from '../runtime/logger.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { hasUndecided } from './at-rest.ts';
import { newEventId, publishEvent } from './intake.ts';
import type { Metrics } from './metrics.ts';
import { loadSnapshot } from './snapshot-store.ts';

export interface ReconcilerDeps {
  redis: RedisClient;
  prefix: string;
  pcpFor: (cluster: ClusterConfig) => PcpOps;
  logger: Logger;
  metrics?: Metrics;
  workerId: string;
  /** Where disagreements between pgpools are recorded (once per change); none = logged only. */
  audit?: AuditStore;
}

/**
 * Level-triggered repair on top of edge-triggered hooks: every interval, compare pgpool's node
 * table with what the machines expect and publish a drift event for each difference. The
 * decider turns drift into the corrective action, so repairs are audited like everything else.
 * One reconciler per cluster per interval across the fleet (a lease), and none while the
 * cluster still has undecided intake entries: their decisions would make the comparison stale.
 */
export class Reconciler {
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly clusters: readonly ClusterConfig[],
    private readonly deps: ReconcilerDeps,
  ) {}

  start(): void {
    for (const c of this.clusters) {
      const tick = () => void this.check(c).catch((err: unknown) => this.deps.logger.error({ err, cluster: c.name }, 'reconcile failed'));
      this.timers.push(setInterval(tick, c.reconcileIntervalMs));
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /** One pass for one cluster; returns the drift events it published. */
  async check(cluster: ClusterConfig): Promise<NodeEvent[]> {
    const { redis, prefix } = this.deps;
    const lease = await redis.set(keys.reconcilerLease(prefix, cluster.name), this.deps.workerId, 'PX', Math.max(500, cluster.reconcileIntervalMs - 100), 'NX');
    if (lease !== 'OK') return [];
    const state = await loadSnapshot(redis, prefix, cluster.name);
    if (!state) return [];
    if (await hasUndecided(redis, prefix, cluster.name, state)) return [];
    let view: PgpoolsView<PcpNode>;
    try {
      view = await this.deps.pcpFor(cluster).pgpools({ deadlineMs: callBudgetMs(cluster) });
    } catch (err) {
      this.deps.logger.warn({ cluster: cluster.name, err }, 'reconciler cannot read pgpool node info; will retry next interval');
      return [];
    }
    if (this.deps.metrics) recordPgpoolMetrics(this.deps.metrics, cluster.name, view);
    await auditPgpoolViews({ ...this.deps, cluster: cluster.name }, view);
    const observed = view.authoritative;
    if (!observed?.nodes) {
      this.deps.logger.warn(
        { cluster: cluster.name, pgpools: view.pgpools.map((p) => ({ endpoint: p.endpoint, reachable: p.reachable, role: p.watchdogRole })) },
        'no pgpool view to trust this pass (none answered, or they disagree and the watchdog leader did not answer); nothing repaired',
      );
      return [];
    }
    const drift = findDrift(state.snapshot, observed.nodes);
    const events: NodeEvent[] = [];
    for (const d of drift) {
      const event: NodeEvent = {
        type: 'reconciler.drift',
        eventId: newEventId(),
        // Same drift seen again before it is decided collapses to one event.
        dedupeKey: `drift|${d.backend}|${d.observed.status}|${d.observed.role}|v${state.version}`,
        source: 'reconciler',
        cluster: cluster.name,
        backend: d.backend,
        observedAt: new Date().toISOString(),
        argv: [],
        nodeId: d.nodeId,
        observed: d.observed,
        expected: d.expected,
      };
      await publishEvent(redis, prefix, event);
      this.deps.metrics?.drift.inc({ cluster: cluster.name });
      this.deps.logger.warn({ cluster: cluster.name, backend: d.backend, observed: d.observed, expected: d.expected, endpoint: observed.endpoint }, 'drift between pgpool and pcpflow');
      events.push(event);
    }
    return events;
  }

}
