import { keys } from '../contracts/keys.ts';
import { backendViews } from '../machines/index.ts';
import type { RedisClient } from '../runtime/redis.ts';
import { streamIdAfter } from './intake.ts';
import { loadSnapshot, type StoredSnapshot } from './snapshot-store.ts';

/** Whether the cluster's intake holds entries newer than the position the decider committed. */
export async function hasUndecided(redis: RedisClient, prefix: string, cluster: string, state: StoredSnapshot): Promise<boolean> {
  const newest = (await redis.xrevrange(keys.intake(prefix, cluster), '+', '-', 'COUNT', 1))[0]?.[0];
  return newest !== undefined && streamIdAfter(newest, state.lastId);
}

/**
 * A cluster at rest: every intake entry decided, nothing waiting to be dispatched, no action in
 * flight. The point at which pgpool's table is final (drills) and a test may start its next step.
 * `exceptWaits`: a wait on streaming may still be in flight (a standby kept out at the fence waits
 * for a re-point that only comes after the promotion); pgpool's table is final meanwhile.
 */
export async function atRest(redis: RedisClient, prefix: string, cluster: string, opts: { exceptWaits?: boolean } = {}): Promise<boolean> {
  const state = await loadSnapshot(redis, prefix, cluster);
  if (!state || (await hasUndecided(redis, prefix, cluster, state))) return false;
  if ((await redis.llen(keys.pendingActions(prefix, cluster))) > 0) return false;
  return backendViews(state.snapshot).every((v) => v.pending === null || (opts.exceptWaits === true && v.pending.type === 'await-streaming'));
}
