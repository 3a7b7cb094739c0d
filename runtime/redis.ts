import { Redis, Cluster, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../contracts/config.ts';
import { FILE_LIMITS, readBoundedFile } from './bounded-read.ts';
import { BoundedReadError, ConfigError, RedisUnreachableError } from './errors.ts';
import { redisWhere } from './redis-errors.ts';

export { RedisUnreachableError } from './errors.ts';
export { isRedisUnreachable, redisWhere } from './redis-errors.ts';
import { readSecret } from './config.ts';

export type RedisClient = Redis | Cluster;

function readTlsFile(key: string, path: string): Buffer {
  try {
    return readBoundedFile(path, FILE_LIMITS.tls);
  } catch (err) {
    throw new ConfigError(`redis.tls.${key}: ${path} ${err instanceof BoundedReadError ? err.message : 'cannot be read'}`, undefined, { cause: err });
  }
}

/**
 * One place that turns the redis section of the config into ioredis clients: URL, password by
 * env or file, TLS, Sentinel or Cluster. `role` picks the behaviour BullMQ asks for: workers
 * wait for Redis forever (maxRetriesPerRequest null); producers and CLI commands fail fast.
 */
export function createRedis(
  cfg: RedisConfig,
  role: 'worker' | 'producer' = 'producer',
  extra: { connectTimeout?: number; commandTimeout?: number } = {},
): RedisClient {
  const url = new URL(cfg.url);
  const password = cfg.password ? readSecret(cfg.password) : decodeURIComponent(url.password) || undefined;
  const tls =
    cfg.tls || url.protocol === 'rediss:'
      ? {
          ca: cfg.tls?.caFile ? readTlsFile('caFile', cfg.tls.caFile) : undefined,
          cert: cfg.tls?.certFile ? readTlsFile('certFile', cfg.tls.certFile) : undefined,
          key: cfg.tls?.keyFile ? readTlsFile('keyFile', cfg.tls.keyFile) : undefined,
          rejectUnauthorized: cfg.tls?.rejectUnauthorized ?? true,
        }
      : undefined;
  const common: RedisOptions = {
    username: cfg.username ?? (decodeURIComponent(url.username) || undefined),
    password,
    tls,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    // Producers (CLI commands) queue while the first connection is made, then fail fast.
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: true,
    connectTimeout: extra.connectTimeout ?? (role === 'worker' ? 10_000 : cfg.publishTimeoutMs),
    ...(extra.commandTimeout ? { commandTimeout: extra.commandTimeout } : {}),
    lazyConnect: false,
  };
  if (cfg.cluster) {
    return new Cluster(cfg.cluster.nodes, { redisOptions: common, enableOfflineQueue: true });
  }
  if (cfg.sentinel) {
    const sentinel = new Redis({
      ...common,
      sentinels: cfg.sentinel.sentinels,
      name: cfg.sentinel.name,
      sentinelPassword: cfg.sentinel.password ? readSecret(cfg.sentinel.password) : undefined,
    });
    return role === 'worker' ? coalesceWrites(sentinel) : sentinel;
  }
  const client = new Redis({ ...common, host: url.hostname, port: url.port ? Number(url.port) : 6379 });
  return role === 'worker' ? coalesceWrites(client) : client;
}

/**
 * Commands a worker issues in the same tick (clusters drained side by side, concurrent actions)
 * leave in one writev instead of one write syscall each, which was a fifth of a busy worker's
 * CPU. The socket is corked at the first write of a tick and uncorked on the next tick: order and
 * replies are untouched, and nothing waits longer than the current tick.
 */
function coalesceWrites(client: Redis): Redis {
  const patched = new WeakSet<object>();
  client.on('connect', () => {
    const stream = client.stream;
    if (patched.has(stream)) return;
    patched.add(stream);
    const write = stream.write;
    let corked = false;
    const uncork = () => {
      corked = false;
      stream.uncork();
    };
    stream.write = function (this: typeof stream, ...args: unknown[]): boolean {
      if (!corked) {
        corked = true;
        stream.cork();
        process.nextTick(uncork);
      }
      return Reflect.apply(write, this, args) as boolean;
    };
  });
  return client;
}

/**
 * A Redis client for a pcpflow command: it answers PING within `timeoutMs` or the command ends at
 * once with one line naming what is unreachable (exit 4). Connection errors are handled here, so
 * ioredis never prints "[ioredis] Unhandled error event", and every later command has a timeout,
 * so a Redis frozen mid-command cannot hang the command either.
 */
export async function openRedis(cfg: RedisConfig, timeoutMs: number = cfg.connectTimeoutMs): Promise<RedisClient> {
  const client = createRedis(cfg, 'producer', { connectTimeout: timeoutMs, commandTimeout: Math.max(timeoutMs, 5_000) });
  let lastError: Error | null = null;
  client.on('error', (err: Error) => {
    lastError = err;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return client;
  } catch (err) {
    client.disconnect();
    const why = (lastError as Error | null)?.message ?? (err instanceof Error ? err.message : String(err));
    throw new RedisUnreachableError(`${redisWhere(cfg)} is unreachable: ${why} (waited ${timeoutMs} ms, redis.connectTimeoutMs)`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}
