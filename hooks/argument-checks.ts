import { formatAddress, parseAddress, printable } from '../contracts/address-syntax.ts';
import { HookArgvError } from './errors.ts';

/**
 * Validators for single hook arguments. Each names the argument in its error (position,
 * placeholder and meaning), because the only reader is a DBA looking at an EFM notification
 * or pgpool log line with nothing else to go on.
 */

/** Kept equal to contracts/events.ts (checked by test/hooks/argv-to-event.test.ts); importing it would pull zod into the hook. */
export const MAX_ARG_LENGTH = 4096;
export const MAX_ARGV = 32;

export interface ArgName {
  /** 1-based position after the global flags, e.g. 3 for `efm attach <here>`. */
  position: number;
  /** e.g. `%h (address of the node)`. */
  label: string;
}

export function argError(name: ArgName, reason: string): HookArgvError {
  const label = name.label === '' ? '' : ` ${name.label}`;
  return new HookArgvError(`argument ${name.position}${label}: ${reason}`);
}

// Brackets are not here: they delimit IPv6 hosts, and the address grammar refuses them elsewhere.
const SHELL_META = /[;&|`$<>(){}\\'"*?!#~\s]/u;
// Format characters (bidi overrides, zero-width joiners), private use, unassigned code points
// and lone surrogates: nothing EFM or pgpool would ever pass, and a classic way to make a log
// line read differently from what it contains.
const ODD_UNICODE = /[\p{Cf}\p{Co}\p{Cn}\p{Cs}]/u;
const CONTROL = /\p{Cc}/u;
const CONTROL_IN_TEXT = /[^\P{Cc}\t\n\r]/u;

function describeChar(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Checks every hook argument must pass, whatever its meaning. */
export function checkCommon(name: ArgName, value: string, freeText: boolean): void {
  if (value.length > MAX_ARG_LENGTH)
    throw argError(name, `is ${value.length} characters long; at most ${MAX_ARG_LENGTH} are accepted`);
  const odd = ODD_UNICODE.exec(value);
  if (odd) throw argError(name, `contains the invisible or unassigned character ${describeChar(odd[0])}`);
  const ctl = (freeText ? CONTROL_IN_TEXT : CONTROL).exec(value);
  if (ctl) throw argError(name, `contains the control character ${describeChar(ctl[0])}`);
}

/** Identifiers (addresses, ids, node types) never contain shell syntax; say so precisely. */
function checkToken(name: ArgName, value: string): void {
  checkCommon(name, value, false);
  const meta = SHELL_META.exec(value);
  if (meta) {
    const shown = /\s/u.test(meta[0]) ? 'whitespace' : `the shell metacharacter '${meta[0]}'`;
    throw argError(name, `"${printable(value)}" contains ${shown}; hooks take bare tokens`);
  }
}

/** pgpool writes "" for a missing host or directory; a shell turns that into an empty argument. */
export function isPgpoolEmpty(value: string): boolean {
  return value === '' || value === '""';
}

export function address(name: ArgName, value: string): string {
  if (value === '') throw argError(name, 'is empty; expected host or host:port');
  checkToken(name, value);
  const parsed = parseAddress(value);
  if (!parsed) throw argError(name, `"${printable(value)}" is not host, host:port, [ipv6] or [ipv6]:port`);
  return formatAddress(parsed);
}

/** %f of fence/post-promotion: EFM 5 passes an empty value when there was no failed primary. */
export function optionalAddress(name: ArgName, value: string | undefined): string | null {
  return value === undefined || isPgpoolEmpty(value) ? null : address(name, value);
}

export function efmNodeType(name: ArgName, value: string): 'primary' | 'standby' {
  checkToken(name, value);
  // EFM 4.0 changed %t from m to p for a primary; both are in the field.
  if (value === 'p' || value === 'm') return 'primary';
  if (value === 's') return 'standby';
  throw argError(
    name,
    `"${printable(value)}" is not a node type; expected p (primary), m (primary, EFM 3.x) or s (standby)`,
  );
}

// pgpool substitutes numbers as " %d": a leading space survives when the command is not split by a shell.
const PGPOOL_INT = /^ *(-?\d{1,6})$/;

function pgpoolInt(name: ArgName, value: string): number | null {
  if (isPgpoolEmpty(value)) return null;
  const m = PGPOOL_INT.exec(value);
  if (!m) {
    checkToken(name, value);
    throw argError(name, `"${printable(value)}" is not a number`);
  }
  const n = Number(m[1]);
  return n === -1 ? null : n;
}

export function pgpoolNodeId(name: ArgName, value: string, nullable: true): number | null;
export function pgpoolNodeId(name: ArgName, value: string, nullable: false): number;
export function pgpoolNodeId(name: ArgName, value: string, nullable: boolean): number | null {
  const n = pgpoolInt(name, value);
  if (n === null) {
    if (nullable) return null;
    throw argError(name, `"${printable(value)}" is missing; pgpool always knows this node id`);
  }
  if (n < 0 || n > 127) throw argError(name, `${n} is not a pgpool node id (0-127, or -1 for none)`);
  return n;
}

export function pgpoolPort(name: ArgName, value: string, nullable: true): number | null;
export function pgpoolPort(name: ArgName, value: string, nullable: false): number;
export function pgpoolPort(name: ArgName, value: string, nullable: boolean): number | null {
  const n = pgpoolInt(name, value);
  if (n === null) {
    if (nullable) return null;
    throw argError(name, `"${printable(value)}" is missing; expected a port number`);
  }
  if (n < 1 || n > 65535) throw argError(name, `${n} is not a TCP port (1-65535)`);
  return n;
}

export function pgpoolHost(name: ArgName, value: string): string | null {
  return isPgpoolEmpty(value) ? null : address(name, value);
}

const DATA_DIR = /^[A-Za-z0-9_./+@=,:%-]+$/;

/** A data directory as pgpool.conf names it; "" when backend_data_directory is unset. */
export function dataDir(name: ArgName, value: string): string {
  if (isPgpoolEmpty(value)) return '';
  checkToken(name, value);
  if (!DATA_DIR.test(value)) throw argError(name, `"${printable(value)}" is not a plain directory path`);
  return value;
}

/**
 * Notification subject/body: prose from EFM that pcpflow only stores. Punctuation is fine,
 * newlines too; command substitution syntax is not something EFM writes, so it is refused.
 */
export function freeText(name: ArgName, value: string): string {
  checkCommon(name, value, true);
  const subst = /`|\$\(|\$\{/u.exec(value);
  if (subst) throw argError(name, `contains shell command substitution syntax '${subst[0]}'`);
  return value;
}
