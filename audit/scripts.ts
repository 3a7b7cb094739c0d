import type { Result } from 'ioredis';
import type { AuditRecord } from '../contracts/audit.ts';
import { keys } from '../contracts/keys.ts';
import { withLuaCommand, type LuaCommand } from '../runtime/lua-command.ts';
import type { RedisClient } from '../runtime/redis.ts';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    pcpflowAppendAudit(...keysAndArgs: (string | number)[]): Result<number, Context>;
  }
}

const APPEND_AUDIT: LuaCommand = { name: 'pcpflowAppendAudit', file: 'audit/lua/append-audit.lua', numberOfKeys: 2 };

export interface AppendAuditArgs {
  prefix: string;
  cluster: string;
  /** The head the records were linked onto, as stored ("seq hash"), or null for an empty chain. */
  expectedHead: string | null;
  /** The head after the last record. */
  nextHead: string;
  records: readonly AuditRecord[];
  /** Approximate stream length to trim to; 0 keeps every record. */
  streamMaxLen: number;
}

/**
 * Appends linked records to a cluster's audit stream if its head has not moved; false when
 * another writer got there first (relink onto the new head and try again).
 */
export async function appendAudit(redis: RedisClient, a: AppendAuditArgs): Promise<boolean> {
  const reply = await withLuaCommand(redis, APPEND_AUDIT).pcpflowAppendAudit(
    keys.audit(a.prefix, a.cluster),
    keys.auditHead(a.prefix, a.cluster),
    a.expectedHead ?? '',
    a.nextHead,
    a.streamMaxLen,
    keys.auditChannel(a.prefix),
    a.cluster,
    ...a.records.map((r) => JSON.stringify(r)),
  );
  return reply === 1;
}
