import { z } from 'zod';
import { ActionSchema } from './actions.ts';
import { ClusterNameSchema } from './config.ts';

/**
 * One append-only audit record. `prevHash` links it to the record before it in the same
 * cluster and `hash` covers every other field, so editing or deleting a record breaks the chain
 * at a point `pcpflow audit --verify` can name.
 */
export const AuditKindSchema = z.enum([
  'event-accepted',
  'event-duplicate',
  'event-rejected',
  'event-ignored',
  'decision',
  'action-attempt',
  'drift',
  'notification',
]);
export type AuditKind = z.infer<typeof AuditKindSchema>;

export const AuditBodySchema = z.strictObject({
  kind: AuditKindSchema,
  cluster: ClusterNameSchema,
  /** ISO time the record was written (the worker's clock, not the decision's). */
  at: z.iso.datetime(),
  eventId: z.string().max(128).optional(),
  eventType: z.string().max(64).optional(),
  backend: z.string().max(300).nullable().optional(),
  from: z.string().max(64).optional(),
  to: z.string().max(64).optional(),
  actions: z.array(ActionSchema.pick({ actionId: true, type: true, backend: true })).optional(),
  actionId: z.string().max(200).optional(),
  attempt: z.number().int().min(1).optional(),
  durationMs: z.number().min(0).optional(),
  outcome: z.string().max(64).optional(),
  endpoint: z.string().max(300).optional(),
  /** One sentence that says what was decided or done and why. */
  note: z.string().max(2000),
  /** The raw argv or payload of a received event, for replay (already redacted). */
  payload: z.unknown().optional(),
  /**
   * The cluster snapshot a decision started from, policy included (first record of a decision
   * only), so `pcpflow replay --verify` can decide the event again and compare.
   */
  snapshot: z.unknown().optional(),
});
export type AuditBody = z.infer<typeof AuditBodySchema>;

export const AuditRecordSchema = AuditBodySchema.extend({
  seq: z.number().int().min(1),
  prevHash: z.string().regex(/^[0-9a-f]{64}$/),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
});
export type AuditRecord = z.infer<typeof AuditRecordSchema>;

export const GENESIS_HASH = '0'.repeat(64);
