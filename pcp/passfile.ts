import { closeSync, fstatSync, lstatSync, openSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { registerSecret } from '../runtime/redact.ts';
import { PcpPasswordNotFoundError } from './errors/index.ts';

/**
 * `.pcppass` lookup with libpcp's rules, so one file serves pcpflow and the pcp_* binaries alike:
 *  - the file: the configured passfile, else $PCPPASSFILE (taken literally), else <home>/.pcppass
 *    where home comes from the passwd entry of the effective uid (not $HOME);
 *  - ignored unless it is a regular file without any group/other permission bits, owned by the
 *    user reading it (a symlink is followed only to a file of that user: a link planted to
 *    someone else's passfile must not lend their passwords);
 *  - lines are `host:port:user:password`, read the way fgets() with a 320-byte buffer reads them
 *    (longer lines are cut into 319-byte pieces, each matched on its own), only `\n` stripped;
 *  - fields 1–3 are `*` (only as the whole field) or literal text in which `\` escapes the next
 *    character; the first matching line wins; the password runs to the next unescaped `:`.
 * Where libpcp stays silent (missing file, bad mode, no line), we say why: a DBA otherwise sees
 * only "authentication failed".
 */

const LINE_BUFFER = 320;
/** libpcp's compiled-in socket directory on Debian; its key is "localhost". */
const DEFAULT_SOCKET_DIR = '/tmp';

export interface PassfileQuery {
  host?: string;
  port: number;
  user: string;
}

export interface PassfileSource {
  /** Explicit file from the config: behaves like PCPPASSFILE. */
  passfile?: string;
  env?: NodeJS.ProcessEnv;
  /** For tests: the home directory otherwise taken from the passwd entry. */
  home?: string;
  /** For tests: the uid that must own the file, otherwise the effective uid. */
  uid?: number;
}

export function passfilePath(src: PassfileSource = {}): string {
  if (src.passfile) return src.passfile;
  const env = src.env ?? process.env;
  if (env.PCPPASSFILE) return env.PCPPASSFILE;
  return join(src.home ?? userInfo().homedir, '.pcppass');
}

export function hostKey(host: string | undefined): string {
  return host === undefined || host === '' || host === DEFAULT_SOCKET_DIR ? 'localhost' : host;
}

/** fgets(buf, 320) pieces: up to 319 bytes, or through the next newline, which is then removed. */
export function passfileLines(content: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < content.length) {
    const nl = content.indexOf(0x0a, i);
    const lineEnd = nl === -1 ? content.length : nl + 1;
    const end = Math.min(lineEnd, i + LINE_BUFFER - 1);
    let piece = content.subarray(i, end);
    if (piece.length > 0 && piece[piece.length - 1] === 0x0a) piece = piece.subarray(0, piece.length - 1);
    // fgets stops at an embedded NUL as far as strlen() is concerned
    const nul = piece.indexOf(0);
    out.push(nul === -1 ? piece : piece.subarray(0, nul));
    i = end;
  }
  return out;
}

/** Matches one field at `pos`; returns the position after its `:` or -1. */
function matchField(line: Buffer, pos: number, token: Buffer): number {
  if (line[pos] === 0x2a && line[pos + 1] === 0x3a) return pos + 2; // "*:"
  let t = 0;
  let p = pos;
  while (p < line.length) {
    let escaped = false;
    if (line[p] === 0x5c) {
      p++;
      escaped = true;
      if (p >= line.length) return -1;
    }
    if (line[p] === 0x3a && !escaped && t === token.length) return p + 1;
    if (t === token.length || line[p] !== token[t]) return -1;
    p++;
    t++;
  }
  return -1;
}

function unescapePassword(line: Buffer, pos: number): string {
  const out: number[] = [];
  for (let p = pos; p < line.length && line[p] !== 0x3a; p++) {
    if (line[p] === 0x5c && p + 1 < line.length) p++;
    const b = line[p];
    if (b !== undefined) out.push(b);
  }
  return Buffer.from(out).toString('utf8');
}

export function matchPassfile(content: Buffer, q: PassfileQuery): string | undefined {
  const keys = [hostKey(q.host), String(q.port), q.user].map((k) => Buffer.from(k, 'utf8'));
  for (const line of passfileLines(content)) {
    let pos = 0;
    for (const key of keys) {
      pos = matchField(line, pos, key);
      if (pos < 0) break;
    }
    if (pos >= 0) return unescapePassword(line, pos);
  }
  return undefined;
}

/** The password for host:port:user, registered for redaction; throws a reason when none is usable. */
export function lookupPassword(q: PassfileQuery, src: PassfileSource = {}): string {
  const path = passfilePath(src);
  const key = `${hostKey(q.host)}:${q.port}:${q.user}`;
  let content: Buffer;
  let fd: number | undefined;
  try {
    // Checked on the open descriptor: what is checked is what is read (no swap in between).
    fd = openSync(path, 'r');
    const st = fstatSync(fd);
    if (!st.isFile()) throw new PcpPasswordNotFoundError(key, `${path} is not a regular file`);
    if ((st.mode & 0o077) !== 0)
      throw new PcpPasswordNotFoundError(
        key,
        `${path} has mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} and is ignored (pgpool's rule); run chmod 600 ${path}`,
      );
    const uid = src.uid ?? process.geteuid?.();
    if (uid !== undefined && st.uid !== uid) {
      const link = lstatSync(path).isSymbolicLink() ? ' (through a symbolic link)' : '';
      throw new PcpPasswordNotFoundError(
        key,
        `${path}${link} is owned by uid ${st.uid}, not by the user reading it (uid ${uid}); give this user its own copy (chown, chmod 600)`,
      );
    }
    content = readFileSync(fd);
  } catch (err) {
    if (err instanceof PcpPasswordNotFoundError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new PcpPasswordNotFoundError(key, `cannot read ${path} (${code}); set pcp.passfile in the config or PCPPASSFILE`, {
      cause: err,
    });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const password = matchPassfile(content, q);
  if (password === undefined)
    throw new PcpPasswordNotFoundError(key, `no line of ${path} matches it (format host:port:user:password, * as wildcard)`);
  registerSecret(password);
  return password;
}
