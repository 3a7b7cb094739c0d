import type { RedisConfig } from '../contracts/config.ts';
import { connectRedis } from '../hooks/connect.ts';
import { RespErrorReply, type RespClient, type RespReply } from '../hooks/resp.ts';
import type { RedisReads } from '../runtime/redis-reads.ts';
import { redisWhere } from '../runtime/redis-errors.ts';
import { RedisUnreachableError } from '../runtime/errors.ts';

export interface ClosableReads extends RedisReads {
  close(): void;
}

/**
 * Redis for a read-only pcpflow command over the RESP client, with openRedis's contract
 * (runtime/redis.ts): connected (Sentinel, Cluster, TLS, ACL user as configured) within
 * `timeoutMs`, or one RedisUnreachableError naming what is unreachable (exit 4); each later read
 * within max(timeoutMs, 5 s), or "Redis stopped answering" (exit 4), so a frozen Redis cannot hang
 * the command. It lives in cli/ because it borrows the hooks' small RESP client, and runtime/ sits
 * below hooks/ in the layers (README, Architecture).
 */
export async function openRedisReads(cfg: RedisConfig, timeoutMs: number = cfg.connectTimeoutMs, env: NodeJS.ProcessEnv = process.env): Promise<ClosableReads> {
  let client: RespClient;
  try {
    client = await connectRedis(cfg, env, Date.now() + timeoutMs);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new RedisUnreachableError(`${redisWhere(cfg)} is unreachable: ${why} (waited ${timeoutMs} ms, redis.connectTimeoutMs)`, { cause: err });
  }
  const commandMs = Math.max(timeoutMs, 5_000);
  const call = async (...args: string[]): Promise<RespReply> => {
    let reply: RespReply;
    try {
      // Each read has its own time (ioredis's commandTimeout): a long audit stream takes many.
      client.setDeadline(Date.now() + commandMs);
      reply = await client.call(...args);
    } catch (err) {
      throw new RedisUnreachableError(`Redis stopped answering: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    // An error reply (a missing ACL permission, WRONGTYPE) is Redis's own refusal, as ioredis raises it.
    if (reply instanceof RespErrorReply) throw new Error(reply.message);
    return reply;
  };
  const strings = (r: RespReply): string[] => (Array.isArray(r) ? r.filter((v): v is string => typeof v === 'string') : []);
  return {
    async hgetall(key) {
      const flat = strings(await call('HGETALL', key));
      const out: Record<string, string> = {};
      for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
      return out;
    },
    async xrange(key, start, end, countToken, count) {
      const reply = await call('XRANGE', key, start, end, countToken, String(count));
      const entries: [string, string[]][] = [];
      for (const e of Array.isArray(reply) ? reply : []) if (Array.isArray(e) && typeof e[0] === 'string') entries.push([e[0], strings(e[1] ?? null)]);
      return entries;
    },
    close: () => client.close(),
  };
}
