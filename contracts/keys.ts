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
 * entry is decided exactly once however many workers race. Actions go to a BullMQ queue per
 * cluster, where retries, backoff and stalled-job recovery are what BullMQ is good at.
 */
export const keys = {
  intake: (prefix: string, cluster: string) => `${prefix}:intake:${cluster}`,
  snapshot: (prefix: string, cluster: string) => `${prefix}:snapshot:${cluster}`,
  audit: (prefix: string, cluster: string) => `${prefix}:audit:${cluster}`,
  /** Hash: dedupe key or event id → intake id of the first sighting (expires per field, see decider). */
  seen: (prefix: string, cluster: string) => `${prefix}:seen:${cluster}`,
  /** Actions decided but not yet handed to BullMQ (transactional outbox on the Redis side). */
  pendingActions: (prefix: string, cluster: string) => `${prefix}:pending:${cluster}`,
  deciderLease: (prefix: string, cluster: string) => `${prefix}:lease:decider:${cluster}`,
  reconcilerLease: (prefix: string, cluster: string) => `${prefix}:lease:reconciler:${cluster}`,
  /** Pub/sub channel announcing new audit records (console live updates). */
  auditChannel: (prefix: string) => `${prefix}:audit-events`,
  /** BullMQ queue name (BullMQ adds its own prefix; names must not contain ':'). */
  actionQueue: (cluster: string) => `actions.${cluster}`,
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
