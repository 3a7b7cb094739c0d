import type { ClusterConfig } from '../contracts/config.ts';

/**
 * One deadline for a whole PCP call (every endpoint, connect, auth, every reply frame and every
 * notice): a pgpool that trickles frames must not hold a caller for longer than it asked.
 * Times are performance.now() values, immune to wall-clock steps.
 */
export interface CallDeadline {
  /** performance.now() at which the call gives up. */
  at: number;
  /** The budget it was given, for the message. */
  ms: number;
}

/**
 * The budget a caller that has no better figure passes: one connect and one exchange
 * (connectMs + readMs). Enough for the first endpoint to answer, or for a dead first endpoint
 * to be skipped and a live second one to answer in the readMs that is left.
 */
export function callBudgetMs(cluster: Pick<ClusterConfig, 'timeouts'>): number {
  return cluster.timeouts.connectMs + cluster.timeouts.readMs;
}

export function deadlineIn(ms: number, now: number = performance.now()): CallDeadline {
  return { at: now + ms, ms };
}

export function remainingMs(d: CallDeadline, now: number = performance.now()): number {
  return Math.max(0, d.at - now);
}
