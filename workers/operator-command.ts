import { resolveInCluster } from '../contracts/backend-resolution.ts';
import { BackendResolutionError } from '../contracts/errors.ts';
import type { ClusterConfig, Config } from '../contracts/config.ts';
import { createPcpOps } from '../pcp/index.ts';
import { openRedis } from '../runtime/redis.ts';
import { publishEvent } from './intake.ts';
import { configuredBackend, operatorEvent, operatorName, publishAndAwait, type OperatorEventInput, type OperatorOutcome } from './operator.ts';

/**
 * What `pcpflow pcp attach|detach|promote`, `maintenance` and `attention clear` do between parsing
 * their options and printing: name the backend, publish the operator event, wait for what became
 * of it. The CLI prints the result (cli/operator-report.ts) and turns it into an exit code.
 */

export interface Submitted {
  /** The backend as the config names it, or as given when the cluster has no such backend. */
  subject: string;
  eventId: string;
  outcome: OperatorOutcome;
}

/**
 * A maintenance switch or an attention clear. An address no backend of the cluster has is still
 * published (the decider audits it as rejected): `configured` says whether it named one.
 */
export async function submitOperatorEvent(
  config: Config,
  cluster: ClusterConfig,
  address: string | null,
  input: (user: string, backend: string | null) => OperatorEventInput,
  argv: string[],
  waitMs: number,
): Promise<Submitted & { configured: boolean }> {
  const backend = address === null ? null : configuredBackend(cluster, address);
  const redis = await openRedis(config.redis);
  try {
    const event = operatorEvent(cluster.name, input(operatorName(), backend ?? address), argv);
    const outcome = await publishAndAwait(redis, config.redis.keyPrefix, cluster, event, { waitMs });
    return { subject: backend ?? address ?? '--all', eventId: event.eventId, outcome, configured: address === null || backend !== null };
  } finally {
    redis.disconnect();
  }
}

export type CommandSubmission = { kind: 'pgpool-unreachable'; error: string } | ({ kind: 'submitted' } & Submitted);

/**
 * `pcp attach|detach|promote` through the audited path. An address the config does not resolve is
 * bad input at once, before pgpool or a worker is asked; where Redis answers, the attempt still
 * enters the intake so the decider audits it as rejected (nothing is waited for). When pgpool
 * cannot be asked, nothing is published.
 */
export async function submitPcpCommand(
  config: Config,
  cluster: ClusterConfig,
  verb: 'attach' | 'detach' | 'promote',
  /** Canonical (contracts/address.ts addressArgument). */
  address: string,
  opts: { reason: string; waitMs: number },
): Promise<CommandSubmission> {
  const event = (backend: string) =>
    operatorEvent(cluster.name, { type: 'operator.command', command: verb, backend, user: operatorName(), reason: opts.reason }, ['pcp', verb, address]);
  let backend: string;
  try {
    backend = resolveInCluster(cluster, address, '<address>');
  } catch (err) {
    if (err instanceof BackendResolutionError) {
      const redis = await openRedis(config.redis).catch(() => null);
      if (redis) await publishEvent(redis, config.redis.keyPrefix, event(address)).catch(() => undefined).finally(() => redis.disconnect());
    }
    throw err;
  }
  try {
    await createPcpOps(cluster).nodes();
  } catch (err) {
    return { kind: 'pgpool-unreachable', error: err instanceof Error ? err.message : String(err) };
  }
  const redis = await openRedis(config.redis);
  try {
    const e = event(backend);
    const outcome = await publishAndAwait(redis, config.redis.keyPrefix, cluster, e, { waitMs: opts.waitMs });
    return { kind: 'submitted', subject: backend, eventId: e.eventId, outcome };
  } finally {
    redis.disconnect();
  }
}
