import { createHash } from 'node:crypto';
import type { RedisClient } from '../../runtime/redis.ts';

const shas = new Map<string, string>();

/** EVALSHA with a fallback to EVAL on NOSCRIPT (after a Redis restart the script cache is empty). */
export async function runScript(redis: RedisClient, lua: string, keys: string[], args: (string | number)[]): Promise<unknown> {
  let sha = shas.get(lua);
  if (!sha) {
    sha = createHash('sha1').update(lua).digest('hex');
    shas.set(lua, sha);
  }
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) return redis.eval(lua, keys.length, ...keys, ...args);
    throw err;
  }
}
