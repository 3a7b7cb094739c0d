import { listPending, readPending, removePending } from './outbox.ts';
import { RedisUnavailableError } from './errors.ts';
import { RespErrorReply, type RespClient } from './resp.ts';
import { publishCommand } from './wire.ts';

/**
 * Moves events into the cluster's intake stream through the idempotent publish script.
 *
 * Why there is no lock and no "delivered offset" file: each XADD is guarded by a per-event
 * marker set in the same Lua script, so the only question after a crash is "which files are
 * still there", and re-sending one that was already appended is a no-op. Order holds with
 * several deliverers too: a deliverer sends event k+1 only after the script for k returned,
 * i.e. after k is in the stream (by it or by another deliverer).
 */

export type PublishOutcome = 'appended' | 'duplicate';

function outcomeOf(reply: unknown, eventId: string): PublishOutcome {
  if (reply instanceof RespErrorReply)
    throw new RedisUnavailableError(`Redis refused event ${eventId}: ${reply.message}`);
  return reply === null ? 'duplicate' : 'appended';
}

export async function publishEvent(
  client: RespClient,
  prefix: string,
  cluster: string,
  eventId: string,
  json: string,
): Promise<PublishOutcome> {
  return outcomeOf(await client.call(...publishCommand(prefix, cluster, eventId, json)), eventId);
}

export interface DeliveryReport {
  appended: number;
  duplicates: number;
  corrupt: number;
  /** Still in the outbox when the time or count budget ran out. */
  remaining: number;
}

const BATCH = 64;

/** Delivers the oldest spooled events first, in batches, until done or out of budget. */
export async function deliverPending(
  client: RespClient,
  opts: { prefix: string; cluster: string; dir: string; deadlineAt: number; maxEvents: number },
): Promise<DeliveryReport> {
  const report: DeliveryReport = { appended: 0, duplicates: 0, corrupt: 0, remaining: 0 };
  const pending = listPending(opts.dir, opts.cluster);
  let i = 0;
  while (i < pending.length && i < opts.maxEvents && Date.now() < opts.deadlineAt) {
    const batch = pending.slice(i, Math.min(i + BATCH, opts.maxEvents, pending.length));
    i += batch.length;
    const ready: { p: (typeof batch)[number]; json: string }[] = [];
    for (const p of batch) {
      let json: string | null;
      try {
        json = readPending(p);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another deliverer took it
        throw err;
      }
      if (json === null) report.corrupt++;
      else ready.push({ p, json });
    }
    const replies = await client.pipeline(
      ready.map((r) => publishCommand(opts.prefix, opts.cluster, r.p.eventId, r.json)),
    );
    ready.forEach((r, k) => {
      if (outcomeOf(replies[k], r.p.eventId) === 'appended') report.appended++;
      else report.duplicates++;
      removePending(r.p);
    });
  }
  report.remaining = listPending(opts.dir, opts.cluster).length;
  return report;
}
