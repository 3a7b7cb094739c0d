// Where one hook run's event goes: Redis when it answers in time and the backlog is drained, else the outbox.
import type { NodeEvent } from '../contracts/events.ts';
import type { ClusterConfig, Config } from '../contracts/config.ts';
import { connectRedis } from './connect.ts';
import { deliverPending, publishEvent } from './deliver.ts';
import { OutboxReadError } from './errors.ts';
import { spool } from './outbox.ts';
import type { RespClient } from './resp.ts';

/** Events a hook delivers from its outbox before its own, per run: bounds how long EFM waits. */
const MAX_BACKLOG_PER_RUN = 1000;

export type Delivery =
  | { via: 'redis'; client: RespClient; notes: string[] }
  | { via: 'outbox'; path: string; why: string; notes: string[] };

/** Backlog first, then this event; whatever cannot reach Redis in time goes to the outbox, in order. */
export async function publishOrSpool(
  config: Config,
  cluster: ClusterConfig,
  event: NodeEvent,
  json: string,
  env: NodeJS.ProcessEnv,
  startedAt: number,
): Promise<Delivery> {
  const deadlineAt = startedAt + config.redis.publishTimeoutMs;
  const prefix = config.redis.keyPrefix;
  const notes: string[] = [];
  let client: RespClient | undefined;
  let why: string;
  try {
    client = await connectRedis(config.redis, env, deadlineAt);
    let remaining = 0;
    try {
      const backlog = await deliverPending(client, {
        prefix,
        cluster: cluster.name,
        dir: config.outbox.dir,
        deadlineAt,
        maxEvents: MAX_BACKLOG_PER_RUN,
      });
      notes.push(...backlog.notes);
      remaining = backlog.remaining;
    } catch (err) {
      // Another user's outbox this one may not even list: what it cannot drain, it must not
      // lose its own event over. The owner's next run, or `pcpflow outbox flush`, drains it.
      if (!(err instanceof OutboxReadError)) throw err;
      notes.push(err.message);
    }
    if (remaining === 0) {
      await publishEvent(client, prefix, cluster.name, event.eventId, json);
      return { via: 'redis', client, notes };
    }
    why = `${remaining} older event(s) still in the outbox`;
    try {
      const path = spool(config.outbox.dir, cluster.name, event.eventId, json);
      client.close();
      return { via: 'outbox', path, why, notes };
    } catch (err) {
      // Cannot queue behind the backlog: publishing now, out of order, beats losing the event.
      notes.push(`${err instanceof Error ? err.message : String(err)}; published ahead of the backlog instead`);
      await publishEvent(client, prefix, cluster.name, event.eventId, json);
      return { via: 'redis', client, notes };
    }
  } catch (err) {
    // Redis down, slow, refusing AUTH, or its secret unreadable by this OS user: spool, never drop.
    why = err instanceof Error ? err.message : String(err);
  }
  client?.close();
  return { via: 'outbox', path: spool(config.outbox.dir, cluster.name, event.eventId, json), why, notes };
}
