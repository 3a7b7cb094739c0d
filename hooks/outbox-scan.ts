// Looking over a cluster's outbox rather than moving events through it (outbox.ts does that): the
// `pcpflow outbox status` scan, and removing the temp files of hooks that died mid-spool.
import { closeSync, constants, lstatSync, openSync, readdirSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { clusterDir, listPending, QUARANTINE, TMP_NAME, type QuarantineReason } from './outbox.ts';

/** A temp file older than this belongs to no live hook (their whole run is bounded by seconds). */
export const STALE_TMP_MS = 5 * 60_000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, as another user's process.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Removes temp files a hook left when it died mid-spool (its pid is gone, or the file is older
 * than any hook run can be). Their event was either linked under its real name already, or never
 * acknowledged to EFM (the hook did not exit 0). Returns how many were removed.
 */
export function cleanStaleTmp(dir: string, cluster: string, now = Date.now()): number {
  const d = clusterDir(dir, cluster);
  let names: string[];
  try {
    names = readdirSync(d);
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    const m = TMP_NAME.exec(name);
    if (!m) continue;
    const path = join(d, name);
    try {
      const st = lstatSync(path);
      const pid = Number(m[1]);
      if (pid === process.pid) continue;
      if (now - st.mtimeMs < STALE_TMP_MS && pidAlive(pid)) continue;
      unlinkSync(path);
      removed++;
    } catch {
      // gone already, or not ours to remove: the next run or an operator will see it in status
    }
  }
  return removed;
}

export interface OutboxEntryInfo {
  name: string;
  ageMs: number;
}

export interface QuarantinedInfo extends OutboxEntryInfo {
  reason: string;
}

export interface OutboxScan {
  cluster: string;
  dir: string;
  pending: OutboxEntryInfo[];
  quarantined: QuarantinedInfo[];
  tmp: OutboxEntryInfo[];
  /** Set when the directory itself could not be read. */
  error?: string;
}

function ageOf(path: string, now: number): number {
  try {
    return Math.max(0, now - lstatSync(path).mtimeMs);
  } catch {
    return 0;
  }
}

function reasonOf(path: string): string {
  try {
    const r = JSON.parse(readEntryText(path)) as Partial<QuarantineReason>;
    return typeof r.reason === 'string' ? r.reason : 'no reason recorded';
  } catch {
    return 'no reason recorded';
  }
}

function readEntryText(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  try {
    const buf = Buffer.alloc(8192);
    const n = readSync(fd, buf, 0, buf.length, null);
    return buf.toString('utf8', 0, n);
  } finally {
    closeSync(fd);
  }
}

/** What `pcpflow outbox status` shows: what waits, what was set aside and why, leftovers. */
export function scanOutbox(dir: string, cluster: string, now = Date.now()): OutboxScan {
  const d = clusterDir(dir, cluster);
  const scan: OutboxScan = { cluster, dir: d, pending: [], quarantined: [], tmp: [] };
  let names: string[];
  try {
    names = readdirSync(d);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') scan.error = `cannot list ${d} (${code ?? String(err)})`;
    return scan;
  }
  for (const p of listPending(dir, cluster)) scan.pending.push({ name: p.name, ageMs: ageOf(p.path, now) });
  for (const name of names.filter((n) => TMP_NAME.test(n)).sort())
    scan.tmp.push({ name, ageMs: ageOf(join(d, name), now) });
  const q = join(d, QUARANTINE);
  let qNames: string[] = [];
  try {
    qNames = readdirSync(q);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') scan.error = `cannot list ${q} (${code ?? String(err)})`;
  }
  for (const name of qNames.filter((n) => !n.endsWith('.reason')).sort())
    scan.quarantined.push({ name, ageMs: ageOf(join(q, name), now), reason: reasonOf(join(q, `${name}.reason`)) });
  return scan;
}
