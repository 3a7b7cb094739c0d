import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The fleet member's Prometheus metrics; one registry per process, served on /metrics. */
export function createMetrics(version = 'unknown') {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'pcpflow_process_' });
  const metrics = {
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
    loopPasses: new Counter({
      name: 'pcpflow_loop_passes_total',
      help: 'Passes of the decider loop and the reconciler over one cluster, by how each ended (decided, nothing-new, in-step, drift-sent-for-repair, ...)',
      labelNames: ['loop', 'outcome'] as const,
      registers: [registry],
    }),
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
    backends: new Gauge({
      name: 'pcpflow_backends',
      help: 'Backends per machine state (up, detached, promoted, rebuilding, attention), per cluster',
      labelNames: ['cluster', 'state'] as const,
      registers: [registry],
    }),
    maintenance: new Gauge({
      name: 'pcpflow_backends_in_maintenance',
      help: 'Backends an operator holds in maintenance, per cluster',
      labelNames: ['cluster'] as const,
      registers: [registry],
    }),
    gaveUp: new Counter({
      name: 'pcpflow_actions_gave_up_total',
      help: 'Actions that gave up after their retries (the backend went to attention)',
      labelNames: ['cluster', 'type'] as const,
      registers: [registry],
    }),
    attentionRetries: new Counter({
      name: 'pcpflow_attention_retries_total',
      help: 'Actions the reconciler retried for a backend in attention once pgpool answered again',
      labelNames: ['cluster'] as const,
      registers: [registry],
    }),
    chainResets: new Counter({
      name: 'pcpflow_audit_chain_resets_total',
      help: "Times a worker found a cluster's decision state or audit chain gone from Redis and re-bootstrapped",
      labelNames: ['cluster'] as const,
      registers: [registry],
    }),
    buildInfo: new Gauge({
      name: 'pcpflow_build_info',
      help: 'Always 1; the labels say which pcpflow and Node.js this worker runs',
      labelNames: ['version', 'node'] as const,
      registers: [registry],
    }),
    decisionSeconds: new Histogram({
      name: 'pcpflow_decision_seconds',
      help: 'Time to decide and commit one intake entry',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    intakeWaitSeconds: new Histogram({
      name: 'pcpflow_intake_wait_seconds',
      help: 'Time an intake entry waited (from its stream id) until the decider started on it',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
      registers: [registry],
    }),
    deciderPhaseSeconds: new Histogram({
      name: 'pcpflow_decider_phase_seconds',
      help: "Where a decider step's time goes: read (seen marker and audit head), decide (the pure core), commit (the Lua commit), dispatch (actions into BullMQ)",
      labelNames: ['phase'] as const,
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 1],
      registers: [registry],
    }),
    actionQueueWaitSeconds: new Histogram({
      name: 'pcpflow_action_queue_wait_seconds',
      help: 'Time an action job waited in BullMQ (from its add, or its retry delay) until an executor took it',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30],
      registers: [registry],
    }),
    actionPhaseSeconds: new Histogram({
      name: 'pcpflow_action_phase_seconds',
      help: "Where an action attempt's time goes: audit (its two records), pcp (act and confirm), finish (result and outcome event)",
      labelNames: ['phase'] as const,
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.1, 1, 5],
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
  metrics.buildInfo.set({ version, node: process.version }, 1);
  return metrics;
}

export type Metrics = ReturnType<typeof createMetrics>;
