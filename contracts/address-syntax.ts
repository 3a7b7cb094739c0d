import type { BackendAddress } from './address.ts';

/**
 * The address grammar without zod, so the hook bundle (which must start in a few milliseconds
 * and cannot afford zod classic's start-up cost) parses addresses exactly as everyone else does.
 * address.ts builds its schemas on these functions; there is one grammar, not two.
 */
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME =
  /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;

export const MAX_ADDRESS_LENGTH = 260;

/** Digits and dots only: meant as an IPv4 address, so it must be one (`300.1.1.1` is neither). */
const NUMERIC = /^[\d.]+$/;

export function isHost(h: string): boolean {
  if (NUMERIC.test(h)) return IPV4.test(h);
  return HOSTNAME.test(h) || (h.includes(':') && IPV6.test(h));
}

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
  const port = portText === undefined ? undefined : Number(portText);
  if (host.length < 1 || host.length > 253 || !isHost(host)) return null;
  if (port !== undefined && (port < 1 || port > 65535)) return null;
  return { host, port };
}

/** Canonical text form used as a key everywhere (machines, audit, dedupe keys). */
export function formatAddress(a: BackendAddress): string {
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return a.port === undefined ? host : `${host}:${a.port}`;
}

/** Makes untrusted text safe to echo in one line of an error message. */
export function printable(text: string, max = 60): string {
  const cleaned = Array.from(text.slice(0, max * 2))
    .map((ch) => (/[\p{Cc}\p{Cf}]/u.test(ch) ? `\\u{${ch.codePointAt(0)?.toString(16)}}` : ch))
    .join('');
  return cleaned.length > max ? `${cleaned.slice(0, max)}…(${text.length} chars)` : cleaned;
}
