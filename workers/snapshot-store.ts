import { keys } from '../contracts/keys.ts';
import type { RedisReads } from '../runtime/redis-reads.ts';
// From its module, not machines/index.ts: decoding a snapshot must not load xstate (`pcpflow status`).
import { decodeSnapshot, type ClusterSnapshot } from '../machines/snapshot.ts';

/** A cluster's decision state as stored: the snapshot, its version and the intake position. */
export interface StoredSnapshot {
  version: string;
  lastId: string;
  snapshot: ClusterSnapshot;
}

export async function loadSnapshot(redis: Pick<RedisReads, 'hgetall'>, prefix: string, cluster: string): Promise<StoredSnapshot | null> {
  const h = await redis.hgetall(keys.snapshot(prefix, cluster));
  if (!h.version || !h.data) return null;
  return { version: h.version, lastId: h.lastId ?? '0-0', snapshot: decodeSnapshot(h.data) };
}
