import { z } from 'zod';
import { AddressTextSchema } from './address.ts';
import { ClusterNameSchema } from './config.ts';

/**
 * The actions pcpflow carries out. The PCP ones are idempotent (ensure*); `await-streaming` asks
 * nothing of pgpool: it waits until a standby streams from the primary, so that the attach that
 * follows never sends reads to a standby still following the old primary or nobody.
 */
export const ActionTypeSchema = z.enum(['attach', 'detach', 'promote', 'promote-switchover', 'await-streaming']);
export type ActionType = z.infer<typeof ActionTypeSchema>;

export const ActionSchema = z.strictObject({
  /** `${eventId}.${index}`: deterministic, so a re-run decision enqueues the same job ids. */
  actionId: z.string().regex(/^[A-Za-z0-9_.-]{1,200}$/),
  type: ActionTypeSchema,
  cluster: ClusterNameSchema,
  backend: AddressTextSchema,
  /** The event whose decision produced this action. */
  eventId: z.string().min(1).max(128),
  /** One sentence for the audit trail: why this action. */
  reason: z.string().max(500),
  /** await-streaming: the primary the standby must stream from (absent: pgpool's primary when checked). */
  primary: AddressTextSchema.optional(),
});
export type Action = z.infer<typeof ActionSchema>;
