import type { RedisConfig } from '../contracts/config.ts';

// Kept apart from runtime/redis.ts so that reporting an error does not load ioredis.

/** Where Redis is, for messages: never the URL itself, which may carry a password. */
export function redisWhere(cfg: Pick<RedisConfig, 'url' | 'sentinel' | 'cluster'>): string {
  if (cfg.sentinel) return `Redis (Sentinel master ${cfg.sentinel.name} via ${cfg.sentinel.sentinels.map((s) => `${s.host}:${s.port}`).join(', ')})`;
  if (cfg.cluster) return `Redis Cluster (${cfg.cluster.nodes.map((n) => `${n.host}:${n.port}`).join(', ')})`;
  const url = new URL(cfg.url);
  return `Redis at ${url.hostname}:${url.port || '6379'}`;
}

/** The connection errors ioredis raises once a command cannot be served. */
export function isRedisUnreachable(err: unknown): err is Error {
  if (!(err instanceof Error)) return false;
  if (err.name === 'MaxRetriesPerRequestError') return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE'].includes(code)) return true;
  return /Command timed out|Connection is closed|Stream isn't writeable|connect ETIMEDOUT|ECONNREFUSED/.test(err.message);
}
