import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readOpenFile } from '../runtime/bounded-read.ts';

/**
 * The parsed config, kept as JSON so the next hook start skips js-yaml (loading and running it
 * cost a YAML config ~5 ms per EFM event over a JSON one: bench/hooks.ts); and with it, once the
 * schema accepted it, the validated config, so the next start skips zod as well (~7 ms; JSON
 * configs are cached for this alone: hooks/config.ts says when that copy is used).
 *
 * Trust rules, because the cache stands in for the config (a forged one could point the hook's
 * Redis password at another host):
 * - The entry holds the config's whole text and is used only when that text equals, byte for byte,
 *   the text just read from the config file: an edited config, however quick or same-sized, never
 *   meets a stale entry (file identity and timestamps would, within their granularity).
 * - Each OS user has its own directory, `<tmpdir>/pcpflow-hook-cache-<uid>` (EFM's hooks run as
 *   efm, pgpool's follow-primary as postgres; neither reads the other's): it and the entry must be
 *   owned by this uid and writable by no one else, the entry opened with O_NOFOLLOW. Anything
 *   else is ignored, never repaired.
 * - Written to a private temporary file (0600, O_EXCL) and renamed into place: a reader sees a
 *   whole entry or none. Only values that survive JSON unchanged are cached (YAML's .inf, .nan
 *   and -0 do not); the cached parse is validated by the same schema as a fresh one, unless the
 *   entry also holds the copy that this very validation code made of it (hooks/config.ts).
 * Any failure here means "no cache": the hook parses and validates the config as before.
 */

const VERSION = 2;
/** An entry holds the config text (at most FILE_LIMITS.config) and its parse: refuse anything far larger. */
const MAX_ENTRY_BYTES = 16 * 1024 * 1024;

interface Entry {
  v: number;
  path: string;
  text: string;
  parsed: unknown;
  /** The validated config, as the validation named `validator` (hooks/config.ts) returned it for `parsed` with no env override. */
  validated?: Validated;
}

export interface Validated {
  validator: string;
  config: unknown;
}

/** What an entry for the very text just read holds. */
export interface YamlCacheHit {
  parsed: unknown;
  validated?: Validated;
}

function cacheDir(uid: number): string {
  return join(tmpdir(), `pcpflow-hook-cache-${uid}`);
}

/** FNV-1a of the config's absolute path: names the entry; the path inside the entry is compared too. */
function nameFor(path: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) {
    h ^= path.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `config-${h.toString(16).padStart(8, '0')}.json`;
}

function privateTo(uid: number, st: { uid: number; mode: number }): boolean {
  return st.uid === uid && (st.mode & 0o022) === 0;
}

/** Where this user's entry for `configPath` lives, or undefined when this platform has no uids. */
export function yamlCacheFile(configPath: string): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined;
  return join(cacheDir(uid), nameFor(resolve(configPath)));
}

function jsonSafe(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (Array.isArray(v)) return v.every(jsonSafe);
  const proto: unknown = Object.getPrototypeOf(v);
  if (typeof v === 'object' && (proto === Object.prototype || proto === null)) return Object.values(v).every(jsonSafe);
  return false;
}

/** The cached parse of `text` (the config file's content just read) and its validated copy, or undefined. */
export function readYamlCache(configPath: string, text: string): YamlCacheHit | undefined {
  const uid = process.getuid?.();
  const file = yamlCacheFile(configPath);
  if (uid === undefined || file === undefined) return undefined;
  let fd: number | undefined;
  try {
    if (!privateTo(uid, lstatSync(cacheDir(uid)))) return undefined;
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const st = fstatSync(fd);
    if (!st.isFile() || !privateTo(uid, st) || st.size > MAX_ENTRY_BYTES) return undefined;
    const entry = JSON.parse(readOpenFile(fd, st.size).toString('utf8')) as Partial<Entry> | null;
    if (!entry || entry.v !== VERSION || entry.path !== resolve(configPath) || entry.text !== text) return undefined;
    const v = entry.validated;
    const validated = v && typeof v.validator === 'string' && v.config !== undefined ? { validator: v.validator, config: v.config } : undefined;
    return { parsed: entry.parsed, ...(validated ? { validated } : {}) };
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Best effort: records the parse of `text` (and its validated copy, when given); never throws. */
export function writeYamlCache(configPath: string, text: string, parsed: unknown, validated?: Validated): void {
  const uid = process.getuid?.();
  const file = yamlCacheFile(configPath);
  if (uid === undefined || file === undefined || !jsonSafe(parsed)) return;
  // A validated copy JSON would change is left out: the next start validates again.
  const keep = validated && jsonSafe(validated.config) ? validated : undefined;
  const dir = cacheDir(uid);
  const tmp = join(dir, `.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`);
  let fd: number | undefined;
  try {
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return;
    }
    const st = lstatSync(dir);
    if (!st.isDirectory() || !privateTo(uid, st)) return;
    const entry: Entry = { v: VERSION, path: resolve(configPath), text, parsed, ...(keep ? { validated: keep } : {}) };
    fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    const bytes = Buffer.from(JSON.stringify(entry), 'utf8');
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // never created, or already renamed
    }
  }
}
