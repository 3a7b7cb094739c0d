import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { OutboxWriteError } from './errors.ts';
import { UnreadableEntryError } from './errors.ts';
import { readOpenFile } from '../runtime/bounded-read.ts';

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
 * Two OS users share it (EFM's hooks run as efm, pgpool's as postgres, the flush timer as
 * pcpflow): every directory the hook creates is chmod'ed to 2770 and every file to 0660 after
 * creation, because the mode given to mkdir/open is filtered by the caller's umask (a umask of
 * 027 made the directory 2750 and locked the second user out).
 *
 * An entry that cannot be read as an event (a directory, a file this user may not read, a
 * truncated write) is moved to `quarantine/` with a `.reason` file next to it, so it never
 * blocks the entries behind it. Removing happens only after Redis confirmed the XADD (see
 * deliver.ts for why a crash in between still cannot append an event twice).
 *
 * Looking over the outbox (status, leftover temp files) is outbox-scan.ts.
 */

export const DIR_MODE = 0o2770;
export const FILE_MODE = 0o660;
/** A spooled event is a few kB; anything far larger is not one of ours. */
const MAX_EVENT_BYTES = 1024 * 1024;
export const QUARANTINE = 'quarantine';

export interface PendingEvent {
  path: string;
  name: string;
  seq: number;
  eventId: string;
}

const NAME = /^(\d{16})\.([A-Za-z0-9_.-]{8,128})\.event$/;
/** A spool's temp file, named by the pid of the hook that writes it. */
export const TMP_NAME = /^\.tmp\.(\d+)\./;

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

/**
 * mkdir -p, one level at a time, with the shared mode set explicitly on what it creates.
 * Not `mkdirSync(…, { recursive: true })`: under /proc it loops forever in Node 20 (ENOENT on a
 * path it can never create), which hung the hook.
 */
export function ensureDir(path: string, depth = 0): void {
  try {
    mkdirSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (!statSync(path).isDirectory()) throw new Error(`${path} exists and is not a directory`);
      return;
    }
    const parent = dirname(path);
    if (code !== 'ENOENT' || parent === path || depth > 64) throw err;
    ensureDir(parent, depth + 1);
    try {
      mkdirSync(path);
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST') throw again;
      return;
    }
  }
  // Created by us: the mode is ours to set, whatever the umask did to it.
  chmodSync(path, DIR_MODE);
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
    if (m) out.push({ path: join(d, name), name, seq: Number(m[1]), eventId: m[2] ?? '' });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** Appends one event (its JSON) to the cluster's outbox; returns the file it now lives in. */
export function spool(dir: string, cluster: string, eventId: string, json: string): string {
  const d = clusterDir(dir, cluster);
  try {
    ensureDir(d);
    const tmp = join(d, `.tmp.${process.pid}.${eventId}`);
    const fd = openSync(tmp, 'wx', FILE_MODE);
    try {
      fchmodSync(fd, FILE_MODE);
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

function readEntry(p: PendingEvent): string {
  let fd: number;
  try {
    // Non-blocking and no symlinks: an entry is a regular file a hook wrote, nothing else.
    fd = openSync(p.path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw err; // another deliverer took it
    if (code === 'EACCES' || code === 'EPERM') {
      const st = lstatSync(p.path);
      throw new UnreadableEntryError(
        `not readable by uid ${process.getuid?.() ?? '?'} (owner uid ${st.uid}, gid ${st.gid}, mode ${(st.mode & 0o7777).toString(8)}); ` +
          `written before outbox modes were explicit, or by a user outside the outbox group`,
      );
    }
    if (code === 'ELOOP') throw new UnreadableEntryError('is a symbolic link, not an event file');
    throw new UnreadableEntryError(`cannot be opened (${code ?? String(err)})`);
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new UnreadableEntryError('is a directory, not an event file');
    if (!st.isFile()) throw new UnreadableEntryError('is not a regular file');
    if (st.size > MAX_EVENT_BYTES) throw new UnreadableEntryError(`is ${st.size} bytes; an event is at most ${MAX_EVENT_BYTES}`);
    return readOpenFile(fd, st.size).toString('utf8').trim();
  } finally {
    closeSync(fd);
  }
}

/**
 * The event JSON of a spooled file. Throws UnreadableEntryError when it cannot be delivered as it is
 * (the caller quarantines it), or the fs error ENOENT when another deliverer removed it first.
 */
export function readPending(p: PendingEvent): string {
  const text = readEntry(p);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UnreadableEntryError(
      text.length === 0 ? 'is empty (a write cut short)' : `is not a complete JSON event (${text.length} bytes; a write cut short?)`,
    );
  }
  const id = parsed && typeof parsed === 'object' ? (parsed as { eventId?: unknown }).eventId : undefined;
  if (id !== p.eventId)
    throw new UnreadableEntryError(`holds event ${typeof id === 'string' ? id.slice(0, 80) : '(none)'}, not ${p.eventId} as its name says`);
  return text;
}

export interface QuarantineReason {
  reason: string;
  at: string;
  uid: number | null;
}

/**
 * Sets an entry aside with why, so the ones behind it flow. Returns false when even that is not
 * allowed (the directory is not ours to change): the caller skips the entry and goes on.
 */
export function quarantine(dir: string, cluster: string, p: PendingEvent, reason: string, now = new Date()): boolean {
  const q = join(clusterDir(dir, cluster), QUARANTINE);
  try {
    ensureDir(q);
    const record: QuarantineReason = { reason, at: now.toISOString(), uid: process.getuid?.() ?? null };
    const reasonPath = join(q, `${p.name}.reason`);
    writeFileSync(reasonPath, `${JSON.stringify(record)}\n`, { mode: FILE_MODE });
    try {
      chmodSync(reasonPath, FILE_MODE);
    } catch {
      // a reason file left by another user: its content is what matters
    }
    renameSync(p.path, join(q, p.name));
    return true;
  } catch {
    // Not ours to move (or another deliverer moved it first): fine either way if it is gone.
    return !exists(p.path);
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

export function removePending(p: PendingEvent): void {
  try {
    unlinkSync(p.path);
  } catch (err) {
    // Another flusher delivered and removed it first; the delivered marker kept Redis single.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
