import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The fleet member's Prometheus metrics; one registry per process, served on /metrics. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pcpflow_process_' });
  return {
    registry,
    events: new Counter({
      name: 'pcpflow_events_total',
      help: 'Intake entries decided, by cluster and disposition',
      labelNames: ['cluster', 'disposition'] as const,
      registers: [registry],
    }),
    actions: new Counter({
      name: 'pcpflow_action_attempts_total',
      help: 'PCP action attempts by type and outcome',
      labelNames: ['type', 'outcome'] as const,
      registers: [registry],
    }),
    retries: new Counter({ name: 'pcpflow_action_retries_total', help: 'Action attempts that will be retried', registers: [registry] }),
    drift: new Counter({ name: 'pcpflow_drift_total', help: 'Drift found by the reconciler', labelNames: ['cluster'] as const, registers: [registry] }),
    pgpoolReachable: new Gauge({
      name: 'pcpflow_pgpool_reachable',
      help: 'Whether each PCP endpoint (pgpool) answered the last reconciler pass: 1 or 0',
      labelNames: ['cluster', 'endpoint'] as const,
      registers: [registry],
    }),
    pgpoolWatchdogRole: new Gauge({
      name: 'pcpflow_pgpool_watchdog_role',
      help: "Each pgpool's own watchdog state at the last reconciler pass (1 for the current one)",
      labelNames: ['cluster', 'endpoint', 'role'] as const,
      registers: [registry],
    }),
    pgpoolLastDisagreement: new Gauge({
      name: 'pcpflow_pgpool_last_disagreement_timestamp_seconds',
      help: "When the reconciler last saw this pgpool's node table differ from the leader's (unix time; absent until the first one)",
      labelNames: ['cluster', 'endpoint'] as const,
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'pcpflow_queue_depth',
      help: 'Jobs waiting in the action queue, and intake entries not yet decided',
      labelNames: ['queue'] as const,
      registers: [registry],
    }),
    decisionSeconds: new Histogram({
      name: 'pcpflow_decision_seconds',
      help: 'Time to decide and commit one intake entry',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    actionSeconds: new Histogram({
      name: 'pcpflow_action_seconds',
      help: 'Duration of one PCP action attempt including verification',
      labelNames: ['type'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15, 30],
      registers: [registry],
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
