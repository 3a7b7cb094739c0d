import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { OutboxWriteError } from './errors.ts';

/**
 * The hook's durable local outbox: one directory per cluster, one file per event, named by a
 * sequence number so delivery follows the order the events were spooled in.
 *
 * Writing: the event goes to a private temp file (O_EXCL), is fsynced, then hard-linked under
 * the next free sequence number. link(2) fails if the name exists, so concurrent hooks never
 * overwrite each other; a racing hook simply takes the next number. The directory is fsynced so
 * the new name survives a power cut. A reader never sees a half-written file: names only appear
 * after the content is on disk, and temp files start with '.' and are skipped.
 *
 * Removing happens only after Redis confirmed the XADD (see deliver.ts for why a crash in between
 * still cannot append an event twice).
 */

export interface PendingEvent {
  path: string;
  seq: number;
  eventId: string;
}

const NAME = /^(\d{16})\.([A-Za-z0-9_.-]{8,128})\.event$/;

export function clusterDir(dir: string, cluster: string): string {
  return join(dir, cluster);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function listPending(dir: string, cluster: string): PendingEvent[] {
  const d = clusterDir(dir, cluster);
  let names: string[];
  try {
    names = readdirSync(d);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: PendingEvent[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (m) out.push({ path: join(d, name), seq: Number(m[1]), eventId: m[2] ?? '' });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** Appends one event (its JSON) to the cluster's outbox; returns the file it now lives in. */
export function spool(dir: string, cluster: string, eventId: string, json: string): string {
  const d = clusterDir(dir, cluster);
  try {
    // Group-writable: EFM's hooks (efm user), pgpool's (postgres) and the flush timer share it.
    mkdirSync(d, { recursive: true, mode: 0o2770 });
    const tmp = join(d, `.tmp.${process.pid}.${eventId}`);
    const fd = openSync(tmp, 'wx', 0o660);
    try {
      writeSync(fd, `${json}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      for (let attempt = 0; attempt < 1000; attempt++) {
        const last = listPending(dir, cluster).at(-1);
        const seq = (last?.seq ?? 0) + 1;
        const path = join(d, `${String(seq).padStart(16, '0')}.${eventId}.event`);
        try {
          linkSync(tmp, path);
          fsyncDir(d);
          return path;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
      }
      throw new Error('no free sequence number after 1000 attempts');
    } finally {
      unlinkSync(tmp);
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new OutboxWriteError(`outbox ${d}: cannot spool event ${eventId}: ${reason}`, { cause: err });
  }
}

/** The event JSON of a spooled file, or null when the file is unreadable as an event (set aside). */
export function readPending(p: PendingEvent): string | null {
  const text = readFileSync(p.path, 'utf8').trim();
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && (parsed as { eventId?: unknown }).eventId === p.eventId)
      return text;
  } catch {
    // falls through: a corrupt file must not block every later event
  }
  renameSync(p.path, `${p.path}.corrupt`);
  return null;
}

export function removePending(p: PendingEvent): void {
  try {
    unlinkSync(p.path);
  } catch (err) {
    // Another flusher delivered and removed it first; the delivered marker kept Redis single.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
