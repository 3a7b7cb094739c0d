import { Queue, type ConnectionOptions } from 'bullmq';
import { z } from 'zod';
import { ActionSchema } from '../contracts/actions.ts';
import { RetryPolicySchema } from '../contracts/config.ts';

/**
 * The BullMQ side of the topology. One action queue serves the whole fleet rather than one per
 * cluster: a queue per cluster would cost every worker a blocking Redis connection per cluster
 * (1,000 clusters → 1,000 connections), and the decider already guarantees that a backend never
 * has two actions in flight, so a shared queue with concurrency loses no ordering that matters.
 * BullMQ's prefix is the configured hash tag, so its keys share pcpflow's Redis Cluster slot.
 */
export const ACTION_QUEUE = 'actions';

export const ActionJobSchema = z.strictObject({
  action: ActionSchema,
  retry: RetryPolicySchema,
  /** Per-attempt deadline for the whole ensure* operation. */
  deadlineMs: z.number().int().positive(),
  /** For await-streaming: how long to wait for streaming (the action's deadline). */
  verifyMs: z.number().int().positive(),
  /** For await-streaming: how often the standby is asked. */
  pollIntervalMs: z.number().int().positive().optional(),
});
export type ActionJob = z.infer<typeof ActionJobSchema>;

export function createActionQueue(connection: ConnectionOptions, prefix: string): Queue {
  return new Queue(ACTION_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: {
      // Completed jobs stay a day so a re-dispatched action id is recognised as a duplicate.
      removeOnComplete: { age: 86_400, count: 100_000 },
      removeOnFail: { age: 30 * 86_400 },
    },
  });
}

/** Backoff with cap and jitter, from the cluster's retry policy carried in the job itself. */
export function backoffDelay(attemptsMade: number, retry: z.infer<typeof RetryPolicySchema>, random: () => number): number {
  const base = Math.min(retry.maxBackoffMs, retry.backoffMs * 2 ** Math.max(0, attemptsMade - 1));
  const spread = base * retry.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}
