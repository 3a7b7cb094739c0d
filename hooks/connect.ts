import type { HookRedisConfig } from './config.ts';
import { readHookSecret } from './config.ts';
import { RedisUnavailableError } from './errors.ts';
import { RespClient, RespErrorReply, type RespEndpoint } from './resp.ts';
import { endpointFrom } from './wire.ts';

/**
 * Where the hook's Redis is: redis.url directly, or the current master as Sentinel reports it.
 * Sentinels are asked in order; the first that names a master wins (the same rule ioredis
 * follows for the workers), so hooks and workers always write to the same master.
 */
export async function connectRedis(cfg: HookRedisConfig, env: NodeJS.ProcessEnv, deadlineAt: number): Promise<RespClient> {
  const base = endpointFrom(cfg, env);
  if (!cfg.sentinel) return RespClient.connect(base, deadlineAt);
  const sentinelPassword = cfg.sentinel.password ? readHookSecret(cfg.sentinel.password, env) : undefined;
  const problems: string[] = [];
  for (const s of cfg.sentinel.sentinels) {
    let client: RespClient | undefined;
    try {
      const ep: RespEndpoint = { host: s.host, port: s.port, db: 0, ...(sentinelPassword ? { password: sentinelPassword } : {}), ...(base.tls ? { tls: base.tls } : {}) };
      client = await RespClient.connect(ep, deadlineAt);
      const reply = await client.call('SENTINEL', 'get-master-addr-by-name', cfg.sentinel.name);
      if (reply instanceof RespErrorReply || !Array.isArray(reply) || typeof reply[0] !== 'string' || typeof reply[1] !== 'string') {
        problems.push(`${s.host}:${s.port} does not know master ${cfg.sentinel.name}`);
        continue;
      }
      return await RespClient.connect({ ...base, host: reply[0], port: Number(reply[1]) }, deadlineAt);
    } catch (err) {
      problems.push(`${s.host}:${s.port}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      client?.close();
    }
  }
  throw new RedisUnavailableError(`no Sentinel named the master ${cfg.sentinel.name}: ${problems.join('; ')}`);
}
