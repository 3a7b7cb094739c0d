/**
 * Text that came from outside (pgpool's error and notice texts, node fields, pcp_* output) is
 * shown in audit records, logs, terminals and the notification command's argv. Control and
 * format characters in it could move a terminal's cursor, forge a log line or hide text
 * (bidi overrides), so each is replaced by a visible `\u{hex}` escape. Nothing is dropped:
 * a DBA still sees that something odd was there.
 */
const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;
/** The same, but newlines kept: for multi-line program output that is parsed line by line. */
const CONTROL_BUT_NEWLINE = /(?!\n)[\p{Cc}\p{Cf}\u2028\u2029]/gu;

const escape = (ch: string): string => `\\u{${(ch.codePointAt(0) ?? 0).toString(16)}}`;

export function escapeControls(text: string, opts: { keepNewlines?: boolean } = {}): string {
  return text.replace(opts.keepNewlines ? CONTROL_BUT_NEWLINE : CONTROL, escape);
}

export function hasControls(text: string): boolean {
  CONTROL.lastIndex = 0;
  const found = CONTROL.test(text);
  CONTROL.lastIndex = 0;
  return found;
}

/** escapeControls over every string of a JSON-like value. */
export function escapeControlsDeep<T>(value: T): T {
  if (typeof value === 'string') return escapeControls(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => escapeControlsDeep(v)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[escapeControls(k)] = escapeControlsDeep(v);
    return out as T;
  }
  return value;
}
