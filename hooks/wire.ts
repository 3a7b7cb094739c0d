import type { ConnectionOptions } from 'node:tls';
import { FILE_LIMITS, readBoundedFile } from '../runtime/bounded-read.ts';
import type { RedisConfig } from '../contracts/config.ts';
import { readHookSecret } from './config.ts';
import { HookConfigError } from './errors.ts';
import type { RespEndpoint } from './resp.ts';

/**
 * What the hook writes to Redis. Key names and fields are those of contracts/keys.ts, repeated
 * here because that module builds zod schemas at load time (too slow for the hook);
 * test/hooks/wire.test.ts asserts they are identical.
 */
export const hookKeys = {
  intake: (prefix: string, cluster: string) => `${prefix}:intake:${cluster}`,
  eventResult: (prefix: string, cluster: string, eventId: string) =>
    `${prefix}:result:event:${cluster}:${eventId}`,
  actionResult: (prefix: string, cluster: string, actionId: string) =>
    `${prefix}:result:action:${cluster}:${actionId}`,
  delivered: (prefix: string, cluster: string, eventId: string) =>
    `${prefix}:delivered:${cluster}:${eventId}`,
} as const;

export const INTAKE_EVENT_FIELD = 'event';
export const INTAKE_REJECTION_FIELD = 'rejected';

/** A week: far longer than any event waits in an outbox before a flush retries it. */
export const DELIVERED_TTL_SECONDS = 7 * 24 * 3600;

/**
 * Appends an event unless its delivered marker exists, atomically. This is what makes outbox
 * delivery idempotent: a crash between XADD and removing the spool file, a reply lost after a
 * successful XADD, or two flushers racing all end with exactly one stream entry per event id.
 * KEYS[1] intake stream, KEYS[2] delivered marker (same hash tag, so same cluster slot).
 * Returns the new entry id, or nil when the event was already delivered.
 */
export const PUBLISH_SCRIPT = `if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then
  return redis.call('XADD', KEYS[1], '*', ARGV[1], ARGV[2])
end
return false`;

export function publishCommand(
  prefix: string,
  cluster: string,
  eventId: string,
  eventJson: string,
): string[] {
  return [
    'EVAL',
    PUBLISH_SCRIPT,
    '2',
    hookKeys.intake(prefix, cluster),
    hookKeys.delivered(prefix, cluster, eventId),
    INTAKE_EVENT_FIELD,
    eventJson,
    String(DELIVERED_TTL_SECONDS),
  ];
}

/** TLS material is a few kB; a FIFO or a device there must not hang or bloat the hook. */
function tlsFile(what: string, path: string): Buffer {
  try {
    return readBoundedFile(path, FILE_LIMITS.tls);
  } catch (err) {
    throw new HookConfigError(`${what}: ${path} ${err instanceof Error ? err.message : String(err)}`, undefined, { cause: err });
  }
}

/** redis:// or rediss:// URL plus the redis section → where and how to connect. */
export function endpointFrom(cfg: RedisConfig, env: NodeJS.ProcessEnv): RespEndpoint {
  const url = new URL(cfg.url);
  const password = cfg.password
    ? readHookSecret(cfg.password, env)
    : decodeURIComponent(url.password) || undefined;
  const username = cfg.username ?? (decodeURIComponent(url.username) || undefined);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  let tls: ConnectionOptions | undefined;
  if (cfg.tls || url.protocol === 'rediss:') {
    tls = {
      ca: cfg.tls?.caFile ? tlsFile('redis.tls.caFile', cfg.tls.caFile) : undefined,
      cert: cfg.tls?.certFile ? tlsFile('redis.tls.certFile', cfg.tls.certFile) : undefined,
      key: cfg.tls?.keyFile ? tlsFile('redis.tls.keyFile', cfg.tls.keyFile) : undefined,
      rejectUnauthorized: cfg.tls?.rejectUnauthorized ?? true,
      servername: /^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname,
    };
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  return {
    host,
    port: url.port ? Number(url.port) : 6379,
    username,
    password,
    db: Number.isInteger(db) ? db : 0,
    tls,
  };
}
