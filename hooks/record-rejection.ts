// The audit record of a hook call refused before it became an event, so the DBA sees it in the audit.
import type { IntakeRejection } from '../contracts/keys.ts';
import { printable } from '../contracts/address-syntax.ts';
import { claimedSource } from './argv-to-event.ts';
import type { ClusterConfig, Config } from '../contracts/config.ts';
import { connectRedis } from './connect.ts';
import type { RespClient } from './resp.ts';
import { hookKeys, INTAKE_REJECTION_FIELD } from './wire.ts';

function rejectionOf(cluster: string, argv: readonly string[], reason: string): IntakeRejection {
  return {
    cluster,
    at: new Date().toISOString(),
    source: claimedSource(argv),
    argv: argv.slice(0, 40).map((a) => printable(a, 280).slice(0, 300)),
    reason: reason.slice(0, 1000),
  };
}

/** Best effort: a refused invocation is audited when Redis answers in time; never blocks the exit. */
export async function recordRejection(
  config: Config,
  cluster: ClusterConfig,
  argv: readonly string[],
  reason: string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  let client: RespClient | undefined;
  try {
    client = await connectRedis(config.redis, env, Date.now() + config.redis.publishTimeoutMs);
    const json = JSON.stringify(rejectionOf(cluster.name, argv, reason));
    await client.call(
      'XADD',
      hookKeys.intake(config.redis.keyPrefix, cluster.name),
      '*',
      INTAKE_REJECTION_FIELD,
      json,
    );
  } catch {
    // Not auditable now; the message on stderr reaches EFM's notification anyway.
  } finally {
    client?.close();
  }
}
