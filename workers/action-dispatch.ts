import type { Queue } from 'bullmq';
import type { Action } from '../contracts/actions.ts';
import type { ClusterConfig } from '../contracts/config.ts';
import { keys } from '../contracts/keys.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { ActionJobSchema, type ActionJob } from './topology.ts';

/**
 * The job of an action: its retries and the deadlines its attempts work within, from the cluster's
 * config. Built from validated config and the machine's own action, so it is not parsed again here;
 * the executor parses every job it reads back from Redis (the boundary).
 */
export function jobFor(cluster: ClusterConfig, action: Action): ActionJob {
  const t = cluster.timeouts;
  if (action.type === 'await-streaming') {
    const w = cluster.streamCheck;
    return {
      action,
      retry: cluster.retry,
      verifyMs: w.deadlineMs,
      pollIntervalMs: w.pollIntervalMs,
      deadlineMs: w.deadlineMs + t.connectMs * 2 + t.readMs,
    };
  }
  return {
    action,
    retry: cluster.retry,
    verifyMs: t.verifyMs,
    deadlineMs: t.connectMs + t.readMs * 4 + t.verifyMs,
  };
}

/** An action job and its text in the pending list (what LREM must match exactly). */
export interface PendingJob {
  text: string;
  job: ActionJob;
}

/**
 * Moves a cluster's committed actions from its pending list (written by the decider's commit)
 * into BullMQ. The job id is the action id, so a crash between the add and the list trim
 * re-adds the same job id, which BullMQ ignores while the job is kept.
 */
export class ActionDispatcher {
  constructor(
    private readonly redis: RedisClient,
    private readonly queue: Queue,
    private readonly prefix: string,
    private readonly cluster: string,
  ) {}

  /** Dispatches whatever is pending (left by this drain, or by a decider that crashed after its commit). */
  async dispatchPending(): Promise<number> {
    let n = 0;
    for (;;) {
      const pending = await this.redis.lrange(keys.pendingActions(this.prefix, this.cluster), 0, 99);
      if (pending.length) await this.dispatch(pending.map((text) => ({ text, job: ActionJobSchema.parse(JSON.parse(text)) })));
      n += pending.length;
      if (pending.length < 100) return n;
    }
  }

  /**
   * Adds the jobs, then removes exactly those list items. Safe against a crash in between (the
   * next drain re-adds the same job ids, which BullMQ ignores while the jobs are kept) and against
   * two deciders dispatching at once (LREM removes one copy per item).
   */
  async dispatch(items: readonly PendingJob[]): Promise<void> {
    // One add per job rather than addBulk, and plain LREMs rather than a pipeline: an ioredis
    // pipeline copies every script command onto itself when it is made (BullMQ's and ours), which
    // cost ~5% of a busy worker's CPU; commands issued in the same tick still leave in one write
    // (runtime/redis.ts), and addBulk was a pipeline of the same adds, not a transaction.
    await Promise.all(
      items.map(({ job }) => this.queue.add(job.action.type, job, { jobId: job.action.actionId, attempts: job.retry.attempts, backoff: { type: 'pcpflow' } })),
    );
    const key = keys.pendingActions(this.prefix, this.cluster);
    await Promise.all(items.map(({ text }) => this.redis.lrem(key, 1, text)));
  }
}
