import { listPending, quarantine, QUARANTINE, readPending, removePending } from './outbox.ts';
import { cleanStaleTmp } from './outbox-scan.ts';
import { OutboxReadError, RedisUnavailableError } from './errors.ts';
import { RespErrorReply, type RespClient } from './resp.ts';
import { publishCommand } from './wire.ts';
import { UnreadableEntryError } from './errors.ts';

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
  /** Set aside in quarantine/ with a reason: unreadable, not a file, a write cut short. */
  quarantined: number;
  /** Unreadable and not movable by this OS user: left in place, skipped, shown by `outbox status`. */
  skipped: number;
  /** Temp files of hooks that died mid-spool, removed. */
  staleTmp: number;
  /** Still in the outbox when the time or count budget ran out (skipped entries not counted). */
  remaining: number;
  /** One line per entry set aside or skipped, for stderr and the flush report. */
  notes: string[];
}

const BATCH = 64;


function listOrExplain(dir: string, cluster: string): ReturnType<typeof listPending> {
  try {
    return listPending(dir, cluster);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new OutboxReadError(`cannot list the outbox ${dir}/${cluster} (${code}); give this user the outbox group (directory mode 2770)`, {
      cause: err,
    });
  }
}

/** Delivers the oldest spooled events first, in batches, until done or out of budget. */
export async function deliverPending(
  client: RespClient,
  opts: { prefix: string; cluster: string; dir: string; deadlineAt: number; maxEvents: number },
): Promise<DeliveryReport> {
  const report: DeliveryReport = { appended: 0, duplicates: 0, quarantined: 0, skipped: 0, staleTmp: 0, remaining: 0, notes: [] };
  report.staleTmp = cleanStaleTmp(opts.dir, opts.cluster);
  const pending = listOrExplain(opts.dir, opts.cluster);
  const skipped = new Set<string>();
  let i = 0;
  while (i < pending.length && i < opts.maxEvents && Date.now() < opts.deadlineAt) {
    const batch = pending.slice(i, Math.min(i + BATCH, opts.maxEvents, pending.length));
    i += batch.length;
    const ready: { p: (typeof batch)[number]; json: string }[] = [];
    for (const p of batch) {
      try {
        ready.push({ p, json: readPending(p) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // another deliverer took it
        // One bad entry must never stop the ones behind it: set it aside, or at least step over it.
        const why = err instanceof UnreadableEntryError ? err.message : `cannot be read (${err instanceof Error ? err.message : String(err)})`;
        if (quarantine(opts.dir, opts.cluster, p, why)) {
          report.quarantined++;
          report.notes.push(`${p.name} ${why}: set aside in ${QUARANTINE}/`);
        } else {
          report.skipped++;
          skipped.add(p.name);
          report.notes.push(`${p.name} ${why}: this user cannot set it aside either, skipped`);
        }
      }
    }
    const replies = await client.pipeline(
      ready.map((r) => publishCommand(opts.prefix, opts.cluster, r.p.eventId, r.json)),
    );
    ready.forEach((r, k) => {
      if (outcomeOf(replies[k], r.p.eventId) === 'appended') report.appended++;
      else report.duplicates++;
      try {
        removePending(r.p);
      } catch (err) {
        // Delivered (its marker is set), so a later run re-sends nothing; say why it stays.
        skipped.add(r.p.name);
        report.notes.push(`${r.p.name} delivered but not removable by this user (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
    });
  }
  report.remaining = listOrExplain(opts.dir, opts.cluster).filter((p) => !skipped.has(p.name)).length;
  return report;
}
