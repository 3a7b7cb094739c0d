import { z } from 'zod';
import { AddressTextSchema } from './address.ts';
import { ClusterNameSchema } from './config.ts';

/** The PCP actions pcpflow can ask of pgpool. Each is carried out idempotently (ensure*). */
export const ActionTypeSchema = z.enum(['attach', 'detach', 'promote', 'promote-switchover']);
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
});
export type Action = z.infer<typeof ActionSchema>;
