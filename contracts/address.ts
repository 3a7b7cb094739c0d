import { z } from 'zod';

/**
 * Backend addresses as EFM and pgpool pass them: `host` or `host:port`, with IPv6 in brackets
 * when a port follows. Anything else (spaces, shell metacharacters, control characters) is
 * rejected here so no later stage ever sees it.
 */
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;

export const MAX_ADDRESS_LENGTH = 260;

export const HostSchema = z
  .string()
  .min(1, 'host is empty')
  .max(253, 'host is longer than 253 characters')
  .refine((h) => IPV4.test(h) || HOSTNAME.test(h) || (h.includes(':') && IPV6.test(h)), {
    message: 'not an IPv4 address, IPv6 address or host name',
  });

export const PortSchema = z.number().int().min(1).max(65535);

export const BackendAddressSchema = z.object({
  host: HostSchema,
  port: PortSchema.optional(),
});
export type BackendAddress = z.infer<typeof BackendAddressSchema>;

/** Parses `host`, `host:port`, `[v6]` or `[v6]:port`; returns null when the text is none of these. */
export function parseAddress(text: string): BackendAddress | null {
  if (text.length === 0 || text.length > MAX_ADDRESS_LENGTH) return null;
  let host = text;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1] ?? '';
    portText = bracketed[2];
  } else if ((text.match(/:/g) ?? []).length === 1) {
    const [h, p] = text.split(':');
    host = h ?? '';
    portText = p;
    if (portText === undefined || !/^\d{1,5}$/.test(portText)) return null;
  }
  const candidate = { host, port: portText === undefined ? undefined : Number(portText) };
  const parsed = BackendAddressSchema.safeParse(candidate);
  return parsed.success ? parsed.data : null;
}

/** Canonical text form used as a key everywhere (machines, audit, dedupe keys). */
export function formatAddress(a: BackendAddress): string {
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return a.port === undefined ? host : `${host}:${a.port}`;
}

/** A schema for an address given as text, yielding the canonical text. */
export const AddressTextSchema = z
  .string()
  .max(MAX_ADDRESS_LENGTH, `address is longer than ${MAX_ADDRESS_LENGTH} characters`)
  .transform((text, ctx) => {
    const parsed = parseAddress(text);
    if (!parsed) {
      ctx.addIssue({ code: 'custom', message: `"${printable(text)}" is not host or host:port` });
      return z.NEVER;
    }
    return formatAddress(parsed);
  });

/** Makes untrusted text safe to echo in one line of an error message. */
export function printable(text: string, max = 60): string {
  const cleaned = Array.from(text.slice(0, max * 2))
    .map((ch) => (/[\p{Cc}\p{Cf}]/u.test(ch) ? `\\u{${ch.codePointAt(0)?.toString(16)}}` : ch))
    .join('');
  return cleaned.length > max ? `${cleaned.slice(0, max)}…(${text.length} chars)` : cleaned;
}
