import { z } from 'zod';
import { ClusterNameSchema } from './config.ts';

/**
 * Redis key names, in one place because hooks (producers) and workers (consumers) must agree.
 * Every key starts with the configured hash-tag prefix (e.g. `{pcpflow}`), so on Redis Cluster
 * all of pcpflow's keys live in one slot and the decider's Lua commit can touch them together.
 *
 * Topology (why it is not a BullMQ queue for events): hooks must start and publish in a few
 * milliseconds, and loading BullMQ's client alone costs ~100 ms. So hooks XADD to a per-cluster
 * intake stream with a few bytes of RESP; the stream gives one total order per cluster; the
 * decider reads it from the position stored next to the cluster snapshot and commits snapshot,
 * position, audit records and pending actions in one Lua script with a version check, so each
 * entry is decided exactly once however many workers race. Actions go to one BullMQ queue shared
 * by every cluster (workers/topology.ts, which names it), where retries, backoff and stalled-job
 * recovery are what BullMQ is good at.
 */
export const keys = {
  intake: (prefix: string, cluster: string) => `${prefix}:intake:${cluster}`,
  snapshot: (prefix: string, cluster: string) => `${prefix}:snapshot:${cluster}`,
  audit: (prefix: string, cluster: string) => `${prefix}:audit:${cluster}`,
  /** Exists while the audit keeps an event: a redelivered event id is recognised as a duplicate. */
  seen: (prefix: string, cluster: string, eventId: string) => `${prefix}:seen:${cluster}:${eventId}`,
  /** "seq hash" of the newest audit record of a cluster: the compare-and-set point of the chain. */
  auditHead: (prefix: string, cluster: string) => `${prefix}:audit-head:${cluster}`,
  /** Actions decided but not yet handed to BullMQ (transactional outbox on the Redis side). */
  pendingActions: (prefix: string, cluster: string) => `${prefix}:pending:${cluster}`,
  /** Held by the one reconciler that checks a cluster this interval. */
  reconcilerLease: (prefix: string, cluster: string) => `${prefix}:lease:reconciler:${cluster}`,
  /** The reconciler's last finding about pgpools disagreeing (a watchdog cluster), so each change is audited once. */
  pgpoolViews: (prefix: string, cluster: string) => `${prefix}:pgpool-views:${cluster}`,
  /**
   * What the decider made of one event: JSON {actionIds, note}. A synchronous hook (fence) waits
   * for it, then for each action's result. Both expire (see workers) so they never pile up.
   */
  eventResult: (prefix: string, cluster: string, eventId: string) => `${prefix}:result:event:${cluster}:${eventId}`,
  /** Final result of one action: JSON {result, reason?, attempt}; written by the executor. */
  actionResult: (prefix: string, cluster: string, actionId: string) => `${prefix}:result:action:${cluster}:${actionId}`,
  /**
   * Marker that one event was appended to the intake stream, set atomically with the XADD by the
   * hooks' publish script: a spooled event whose XADD already happened (reply lost, or a crash
   * before the outbox file was removed) is never appended twice. Expires after a week.
   */
  delivered: (prefix: string, cluster: string, eventId: string) => `${prefix}:delivered:${cluster}:${eventId}`,
  /** JSON {at, n}: when the reconciler last retried (or first saw) a backend in attention, and how often. */
  attentionRetry: (prefix: string, cluster: string, backend: string) => `${prefix}:attention-retry:${cluster}:${backend}`,
  /** Pub/sub channel announcing new audit records (console live updates). */
  auditChannel: (prefix: string) => `${prefix}:audit-events`,
} as const;

/** The stream field that carries an event, and the one that carries a hook's rejected input. */
export const INTAKE_EVENT_FIELD = 'event';
export const INTAKE_REJECTION_FIELD = 'rejected';

/** What a hook records when it refuses its input (exit 2) but Redis is reachable. */
export const IntakeRejectionSchema = z.strictObject({
  cluster: ClusterNameSchema,
  at: z.iso.datetime(),
  source: z.enum(['efm', 'pgpool', 'operator']),
  /** Already truncated and made printable by the hook. */
  argv: z.array(z.string().max(300)).max(40),
  reason: z.string().max(1000),
});
export type IntakeRejection = z.infer<typeof IntakeRejectionSchema>;

export const EventResultSchema = z.strictObject({
  actionIds: z.array(z.string()),
  note: z.string(),
});
export type EventResult = z.infer<typeof EventResultSchema>;

export const ActionFinalResultSchema = z.strictObject({
  result: z.enum(['changed', 'already', 'gave-up']),
  attempt: z.number().int().min(1),
  reason: z.string().optional(),
});
export type ActionFinalResult = z.infer<typeof ActionFinalResultSchema>;
