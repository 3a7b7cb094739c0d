import type { ClusterConfig } from '../contracts/config.ts';
import type { NodeEvent } from '../contracts/events.ts';
import { keys } from '../contracts/keys.ts';
import { BACKEND_STATE_NAMES, backendViews, findDrift, type ClusterSnapshot } from '../machines/index.ts';
import { callBudgetMs, type PcpNode, type PcpOps, type PgpoolsView } from '../pcp/index.ts';
import { probeEndpoints } from '../pcp/probe.ts';
import type { AuditStore } from '../audit/store.ts';
import { auditPgpoolViews, recordPgpoolMetrics } from './pgpool-views.ts';
import type { Logger } from '../runtime/logger.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { hasUndecided } from './at-rest.ts';
import { newEventId, publishEvent } from './intake.ts';
import type { Metrics } from './metrics.ts';
import { loadSnapshot } from './snapshot-store.ts';
import { recordPass, type ReconcilerPass } from './pass-outcome.ts';

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
      const tick = () =>
        void this.check(c).catch((err: unknown) => {
          this.deps.logger.error({ err, cluster: c.name }, 'reconcile failed');
          recordPass(this.deps, c.name, { loop: 'reconciler', outcome: 'failed', error: err });
        });
      this.timers.push(setInterval(tick, c.reconcileIntervalMs));
    }
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
  }

  /**
   * The gauges to alert on, from every reconciler-role member (not only the lease holder), so each
   * worker's /metrics is current: backends per state, in maintenance, each PCP endpoint reachable.
   */
  private async gauges(cluster: ClusterConfig, snapshot: ClusterSnapshot | null): Promise<void> {
    const m = this.deps.metrics;
    if (!m) return;
    if (snapshot) {
      const views = backendViews(snapshot);
      for (const state of BACKEND_STATE_NAMES) m.backends.set({ cluster: cluster.name, state }, views.filter((v) => v.state === state).length);
      m.maintenance.set({ cluster: cluster.name }, snapshot.maintenance.length);
    }
    for (const e of await probeEndpoints(cluster)) m.pgpoolReachable.set({ cluster: cluster.name, endpoint: e.endpoint }, e.reachable ? 1 : 0);
  }

  /** One pass for one cluster; returns the drift and retry events it published. */
  async check(cluster: ClusterConfig): Promise<NodeEvent[]> {
    const { pass, events } = await this.pass(cluster);
    recordPass(this.deps, cluster.name, pass);
    return events;
  }

  private async pass(cluster: ClusterConfig): Promise<{ pass: ReconcilerPass; events: NodeEvent[] }> {
    const { redis, prefix } = this.deps;
    const ended = (p: ReconcilerPass, events: NodeEvent[] = []) => ({ pass: p, events });
    const stored = await loadSnapshot(redis, prefix, cluster.name);
    await this.gauges(cluster, stored?.snapshot ?? null).catch((err: unknown) => this.deps.logger.warn({ err, cluster: cluster.name }, 'cannot update gauges'));
    const lease = await redis.set(keys.reconcilerLease(prefix, cluster.name), this.deps.workerId, 'PX', Math.max(500, cluster.reconcileIntervalMs - 100), 'NX');
    if (lease !== 'OK') return ended({ loop: 'reconciler', outcome: 'lease-held-elsewhere' });
    const state = await loadSnapshot(redis, prefix, cluster.name);
    if (!state) return ended({ loop: 'reconciler', outcome: 'no-snapshot-yet' });
    if (await hasUndecided(redis, prefix, cluster.name, state)) return ended({ loop: 'reconciler', outcome: 'intake-not-drained' });
    let view: PgpoolsView<PcpNode>;
    try {
      view = await this.deps.pcpFor(cluster).pgpools({ deadlineMs: callBudgetMs(cluster) });
    } catch (err) {
      this.deps.logger.warn({ cluster: cluster.name, err }, 'reconciler cannot read pgpool node info; will retry next interval');
      return ended({ loop: 'reconciler', outcome: 'pgpool-unreachable', error: err });
    }
    if (this.deps.metrics) recordPgpoolMetrics(this.deps.metrics, cluster.name, view);
    await auditPgpoolViews({ ...this.deps, cluster: cluster.name }, view);
    const observed = view.authoritative;
    if (!observed?.nodes) {
      this.deps.logger.warn(
        { cluster: cluster.name, pgpools: view.pgpools.map((p) => ({ endpoint: p.endpoint, reachable: p.reachable, role: p.watchdogRole })) },
        'no pgpool view to trust this pass (none answered, or they disagree and the watchdog leader did not answer); nothing repaired',
      );
      return ended({ loop: 'reconciler', outcome: 'no-trusted-view' });
    }
    const held = new Set(state.snapshot.maintenance.map((m) => m.backend));
    const drift = findDrift(state.snapshot, observed.nodes);
    const events: NodeEvent[] = await this.retryAttention(cluster, state.snapshot);
    const retried = events.length;
    let heldDrift = 0;
    for (const d of drift) {
      if (held.has(d.backend)) {
        // Maintenance: the operator owns the backend; say what differs, act on nothing.
        this.deps.logger.warn({ cluster: cluster.name, backend: d.backend, observed: d.observed, expected: d.expected }, 'drift on a backend in maintenance: reported, not repaired');
        heldDrift++;
        continue;
      }
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
    const published = events.length - retried;
    if (published > 0) return ended({ loop: 'reconciler', outcome: 'drift-sent-for-repair', drift: published, held: heldDrift, retried }, events);
    if (heldDrift > 0) return ended({ loop: 'reconciler', outcome: 'drift-held-in-maintenance', held: heldDrift, retried }, events);
    if (retried > 0) return ended({ loop: 'reconciler', outcome: 'attention-retried', retried }, events);
    return ended({ loop: 'reconciler', outcome: 'in-step' }, events);
  }

  /**
   * The attention rule: pgpool answered this pass, so whatever made the action give up (pgpool
   * down or frozen, a wrong password since fixed) may be gone. Once the cool-down has passed since
   * the backend was first seen in attention (doubling after each retry, capped at an hour), publish
   * a retry of the action that gave up. The stamp lives in Redis so the cool-down holds across the
   * fleet; it is dropped once the backend leaves attention.
   */
  private async retryAttention(cluster: ClusterConfig, snapshot: ClusterSnapshot): Promise<NodeEvent[]> {
    const { redis, prefix } = this.deps;
    const now = Date.now();
    const events: NodeEvent[] = [];
    for (const b of snapshot.backends) {
      const key = keys.attentionRetry(prefix, cluster.name, b.context.address);
      const gaveUp = b.context.gaveUp;
      const inAttention = backendViews({ ...snapshot, backends: [b] })[0]?.state === 'attention';
      if (!inAttention || !gaveUp) {
        if (inAttention === false) await redis.del(key);
        continue;
      }
      if (snapshot.maintenance.some((m) => m.backend === b.context.address)) continue;
      const raw = await redis.get(key);
      const stamp = parseStamp(raw);
      if (!stamp) {
        await redis.set(key, JSON.stringify({ at: now, n: 0 }), 'EX', 86_400);
        continue;
      }
      const wait = Math.min(cluster.attentionRetryMs * 2 ** stamp.n, 3_600_000);
      if (now - stamp.at < wait) continue;
      await redis.set(key, JSON.stringify({ at: now, n: stamp.n + 1 }), 'EX', 86_400);
      const event: NodeEvent = {
        type: 'reconciler.retry',
        eventId: newEventId(),
        dedupeKey: `retry|${b.context.address}|${gaveUp.actionId}|${stamp.n}`,
        source: 'reconciler',
        cluster: cluster.name,
        backend: b.context.address,
        observedAt: new Date(now).toISOString(),
        argv: [],
        actionId: gaveUp.actionId,
      };
      await publishEvent(redis, prefix, event);
      this.deps.metrics?.attentionRetries.inc({ cluster: cluster.name });
      this.deps.logger.warn({ cluster: cluster.name, backend: b.context.address, gaveUp }, 'pgpool answers again: retrying the action that gave up');
      events.push(event);
    }
    return events;
  }
}

function parseStamp(raw: string | null): { at: number; n: number } | null {
  if (!raw) return null;
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v === 'object' && v !== null && 'at' in v && 'n' in v && typeof v.at === 'number' && typeof v.n === 'number') return { at: v.at, n: v.n };
  } catch {
    // A stamp pcpflow did not write: start the cool-down again.
  }
  return null;
}
