import type { Result } from 'ioredis';
import type { AuditRecord } from '../contracts/audit.ts';
import { keys, type EventResult } from '../contracts/keys.ts';
import { withLuaCommand, type LuaCommand } from '../runtime/lua-command.ts';
import type { RedisClient } from '../runtime/redis.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    pcpflowCommitDecision(...keysAndArgs: (string | number)[]): Result<number[], Context>;
  }
}

const COMMIT_DECISION: LuaCommand = { name: 'pcpflowCommitDecision', file: 'workers/lua/commit-decision.lua', numberOfKeys: 6 };

/** What the commit checks first: it writes nothing unless both are still what the caller read. */
export interface CommitExpected {
  /** The snapshot version decided from; null when the cluster has none yet (bootstrap). */
  version: string | null;
  /** The audit head ("seq hash") the records were linked onto; null for an empty chain. */
  head: string | null;
}

/** The cluster's state after the step. */
export interface CommitNext {
  version: string;
  /** The encoded snapshot. */
  snapshot: string;
  /** The intake entry this step consumed: where the next drain starts. */
  lastId: string;
  /** The audit head after the last record. */
  head: string;
}

export interface CommitDecisionArgs {
  prefix: string;
  cluster: string;
  expected: CommitExpected;
  next: CommitNext;
  records: readonly AuditRecord[];
  /** Action jobs as the pending list keeps them (JSON): dispatch removes exactly these texts. */
  actions: readonly string[];
  /** The decided event's id, remembered for `ttlS` so a redelivery is recognised; null for none. */
  seen: { eventId: string; ttlS: number } | null;
  /** What a synchronous hook reads about its event, kept `ttlS`; null for none. */
  result: { eventId: string; value: EventResult; ttlS: number } | null;
  /** Approximate audit stream length to trim to; 0 keeps every record. */
  streamMaxLen: number;
}

export type CommitOutcome =
  /** Written; `pending` actions are in the list now (this step's, and any a crashed decider left). */
  | { status: 'committed'; pending: number }
  /** Another decider committed this cluster first: reload and decide again from its state. */
  | { status: 'version-moved' }
  /** Only the audit head moved (an executor appended): relink the records and commit again. */
  | { status: 'head-moved' }
  /** The step's event has its seen marker: it was decided before (a redelivery); nothing written. */
  | { status: 'seen' };

/**
 * One decider step, all or nothing (workers/lua/commit-decision.lua): snapshot, intake position,
 * audit records, pending actions, seen marker, event result; nothing is written unless the
 * snapshot version and the audit head are still what the caller read and the event has no seen
 * marker yet (checked here rather than in a round trip of its own before deciding).
 */
export async function commitDecision(redis: RedisClient, a: CommitDecisionArgs): Promise<CommitOutcome> {
  const snapshotKey = keys.snapshot(a.prefix, a.cluster);
  const reply = await withLuaCommand(redis, COMMIT_DECISION).pcpflowCommitDecision(
    snapshotKey,
    keys.audit(a.prefix, a.cluster),
    keys.auditHead(a.prefix, a.cluster),
    keys.pendingActions(a.prefix, a.cluster),
    // "None" is the snapshot key again, never '': see commit-decision.lua.
    a.seen ? keys.seen(a.prefix, a.cluster, a.seen.eventId) : snapshotKey,
    a.result ? keys.eventResult(a.prefix, a.cluster, a.result.eventId) : snapshotKey,
    a.expected.version ?? '',
    a.next.version,
    a.next.snapshot,
    a.next.lastId,
    a.expected.head ?? '',
    a.next.head,
    JSON.stringify(a.result?.value ?? {}),
    a.result?.ttlS ?? 0,
    a.seen?.ttlS ?? 0,
    a.streamMaxLen,
    keys.auditChannel(a.prefix),
    a.cluster,
    a.records.length,
    ...a.records.map((r) => JSON.stringify(r)),
    a.actions.length,
    ...a.actions,
  );
  const [status, pending] = reply;
  if (status === 1) return { status: 'committed', pending: pending ?? 0 };
  if (status === -2) return { status: 'seen' };
  return status === -1 ? { status: 'head-moved' } : { status: 'version-moved' };
}
