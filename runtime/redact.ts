/**
 * Secret redaction shared by the logger and every error printer. Secrets are registered when
 * they are read (config secret refs, .pcppass lookups) so that even a message built by a
 * library (ioredis echoing a URL, say) has them masked before it is written anywhere.
 */
const known = new Set<string>();

export const REDACTED = '[REDACTED]';

export function registerSecret(secret: string | undefined): void {
  if (secret && secret.length >= 3) known.add(secret);
}

/** Masks registered secrets and the password part of URLs such as redis://user:pw@host. */
export function redactText(text: string): string {
  let out = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)([^@\s]+)@/gi, `$1${REDACTED}@`);
  for (const s of known) out = out.split(s).join(REDACTED);
  return out;
}

/** Key names whose values are never logged, whatever they hold. */
export const SECRET_KEYS = ['password', 'pass', 'secret', 'token', 'authorization', 'md5', 'salt'];

export function redactValue(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[deep]';
  if (typeof value === 'string') return redactText(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) };
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_KEYS.includes(k.toLowerCase()) ? REDACTED : redactValue(v, depth + 1);
    }
    return out;
  }
  return value;
}
