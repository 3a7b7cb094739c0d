import type { RedisConfig } from '../contracts/config.ts';
import { readHookSecret } from './config.ts';
import { RedisUnavailableError } from './errors.ts';
import { RespClient, RespErrorReply, type RespEndpoint } from './resp.ts';
import { endpointFrom } from './wire.ts';

/**
 * Where the hook's Redis is: redis.url directly, or the current master as Sentinel reports it.
 * Sentinels are asked in order; the first that names a master wins (the same rule ioredis
 * follows for the workers), so hooks and workers always write to the same master.
 */
export async function connectRedis(cfg: RedisConfig, env: NodeJS.ProcessEnv, deadlineAt: number): Promise<RespClient> {
  const base = endpointFrom(cfg, env);
  if (cfg.cluster) return connectClusterMaster(cfg, base, deadlineAt);
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

/**
 * Redis Cluster: every pcpflow key carries the configured hash tag, so all of them live in one
 * slot. Ask any reachable node which master serves that slot (CLUSTER KEYSLOT, CLUSTER SLOTS) and
 * talk to it alone; no redirection handling is needed afterwards. A resharding in the middle of a
 * hook run ends as a refused command, and the event is spooled like any other Redis trouble.
 */
async function connectClusterMaster(cfg: RedisConfig, base: RespEndpoint, deadlineAt: number): Promise<RespClient> {
  const problems: string[] = [];
  for (const node of cfg.cluster?.nodes ?? []) {
    let client: RespClient | undefined;
    try {
      client = await RespClient.connect({ ...base, host: node.host, port: node.port, db: 0 }, deadlineAt);
      const slot = await client.call('CLUSTER', 'KEYSLOT', cfg.keyPrefix);
      const slots = await client.call('CLUSTER', 'SLOTS');
      if (typeof slot !== 'number' || !Array.isArray(slots)) {
        problems.push(`${node.host}:${node.port} did not answer CLUSTER KEYSLOT/SLOTS`);
        continue;
      }
      for (const range of slots) {
        if (!Array.isArray(range) || typeof range[0] !== 'number' || typeof range[1] !== 'number') continue;
        const master = range[2];
        if (slot < range[0] || slot > range[1] || !Array.isArray(master)) continue;
        const host = typeof master[0] === 'string' && master[0] !== '' ? master[0] : node.host;
        const port = typeof master[1] === 'number' ? master[1] : node.port;
        if (host === node.host && port === node.port) {
          const found = client;
          client = undefined; // keep this connection: it is the master
          return found;
        }
        return await RespClient.connect({ ...base, host, port, db: 0 }, deadlineAt);
      }
      problems.push(`${node.host}:${node.port}: no master serves slot ${slot}`);
    } catch (err) {
      problems.push(`${node.host}:${node.port}: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      client?.close();
    }
  }
  throw new RedisUnavailableError(`no Redis Cluster node named the master of ${cfg.keyPrefix}: ${problems.join('; ')}`);
}
