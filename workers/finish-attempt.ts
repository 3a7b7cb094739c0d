import type { Result } from 'ioredis';
import type { AuditRecord } from '../contracts/audit.ts';
import { INTAKE_EVENT_FIELD, keys } from '../contracts/keys.ts';
import { withLuaCommand, type LuaCommand } from '../runtime/lua-command.ts';
import type { RedisClient } from '../runtime/redis.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    pcpflowFinishAttempt(...keysAndArgs: (string | number)[]): Result<number, Context>;
  }
}

const FINISH_ATTEMPT: LuaCommand = { name: 'pcpflowFinishAttempt', file: 'workers/lua/finish-attempt.lua', numberOfKeys: 4 };

export interface FinishAttemptArgs {
  prefix: string;
  cluster: string;
  actionId: string;
  /** The head the records were linked onto ("seq hash"), or null for an empty chain. */
  expectedHead: string | null;
  nextHead: string;
  records: readonly AuditRecord[];
  streamMaxLen: number;
  /** The action's final result (JSON), kept `resultTtlS` for synchronous hooks. */
  result: string;
  resultTtlS: number;
  /** The action.outcome event (JSON) for the decider. */
  outcomeEvent: string;
}

/**
 * An attempt's result record, the action's final result and its outcome event, in one script
 * (workers/lua/finish-attempt.lua); false when the audit head moved first (relink, call again).
 */
export async function finishAttempt(redis: RedisClient, a: FinishAttemptArgs): Promise<boolean> {
  const reply = await withLuaCommand(redis, FINISH_ATTEMPT).pcpflowFinishAttempt(
    keys.audit(a.prefix, a.cluster),
    keys.auditHead(a.prefix, a.cluster),
    keys.actionResult(a.prefix, a.cluster, a.actionId),
    keys.intake(a.prefix, a.cluster),
    a.expectedHead ?? '',
    a.nextHead,
    a.streamMaxLen,
    keys.auditChannel(a.prefix),
    a.cluster,
    a.result,
    a.resultTtlS,
    INTAKE_EVENT_FIELD,
    a.outcomeEvent,
    ...a.records.map((r) => JSON.stringify(r)),
  );
  return reply === 1;
}
