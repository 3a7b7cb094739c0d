import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Config, SecretRef } from '../contracts/config.ts';
import { readSecret } from '../runtime/config.ts';
import type { MetricsGate } from '../workers/http.ts';

/**
 * Who may read the console. With `http.token`: `Authorization: Bearer <token>`, or `?token=`
 * once (answered with a redirect that drops it from the URL and a session cookie), or that
 * cookie. With `http.basicAuth`: basic credentials. With both, either is enough. With neither
 * the console is open, which `pcpflow config check` and the worker allow on loopback only.
 *
 * The cookie is `<expiry>.<HMAC(token, expiry)>`: never the token, it expires, and it is bound
 * to the token: a rotated token file (re-read when it changes) ends every session of the old one.
 */
export const SESSION_COOKIE = 'pcpflow_console';
/** How long a console session lasts before the token has to be presented again. */
export const SESSION_TTL_S = 12 * 3600;

export type AuthDecision =
  | { kind: 'allow' }
  /** The token came in the query: set the cookie and redirect to `location` (no token). */
  | { kind: 'redirect'; location: string; cookie: string }
  | { kind: 'deny'; headers: Record<string, string> };

export type AuthGate = (req: IncomingMessage, url: URL) => AuthDecision;

/** Equal without a timing or length leak: both sides hashed to 32 bytes first. */
export function sameSecret(given: string, expected: string): boolean {
  const x = createHash('sha256').update(given).digest();
  const y = createHash('sha256').update(expected).digest();
  return timingSafeEqual(x, y);
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * A secret that follows its file: re-read when the file's mtime or size changes, so a rotated
 * token takes effect (and ends the old sessions) without a restart. An env secret is fixed.
 */
function liveSecret(ref: SecretRef, env: NodeJS.ProcessEnv): () => string {
  let value = readSecret(ref, env);
  const file = ref.file;
  if (file === undefined) return () => value;
  let stamp = stampOf(file);
  return () => {
    const now = stampOf(file);
    if (now !== stamp) {
      // A rotation caught half-written (empty) keeps the old value until the next request.
      try {
        value = readSecret(ref, env);
        stamp = now;
      } catch {
        /* keep the previous token */
      }
    }
    return value;
  };
}

function stampOf(file: string): string {
  try {
    const st = statSync(file);
    return `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    return 'missing';
  }
}

function sessionMac(token: string, expiry: number): string {
  return createHmac('sha256', token).update(`pcpflow console session v2|${expiry}`).digest('base64url');
}

export function sessionCookie(token: string, nowMs: number): string {
  const expiry = Math.floor(nowMs / 1000) + SESSION_TTL_S;
  return `${expiry}.${sessionMac(token, expiry)}`;
}

function validSession(value: string | undefined, token: string, nowMs: number): boolean {
  if (value === undefined) return false;
  const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
  if (!m) return false;
  const expiry = Number(m[1]);
  // The MAC is checked even when expired, so both paths take the same time.
  const macOk = sameSecret(m[2] ?? '', sessionMac(token, expiry));
  return macOk && expiry > nowMs / 1000 && expiry <= nowMs / 1000 + SESSION_TTL_S;
}

export interface AuthOptions {
  env?: NodeJS.ProcessEnv;
  /** Wall clock, for session expiry (tests pass their own). */
  now?: () => number;
}

/** Secrets are read here (and registered for redaction); a missing or empty one fails the start. */
export function createAuthGate(http: Config['http'], opts: AuthOptions = {}): AuthGate {
  const env = opts.env ?? process.env;
  const now = opts.now ?? Date.now;
  const token = http.token ? liveSecret(http.token, env) : null;
  const basic = http.basicAuth ? { user: http.basicAuth.user, password: liveSecret(http.basicAuth.password, env) } : null;
  if (!token && !basic) return () => ({ kind: 'allow' });
  const challenge: Record<string, string> = basic ? { 'www-authenticate': 'Basic realm="pcpflow console", charset="UTF-8"' } : {};
  const deny: AuthDecision = { kind: 'deny', headers: challenge };

  return (req, url) => {
    const header = req.headers.authorization ?? '';
    const query = url.searchParams.get('token');
    if (token) {
      const current = token();
      // A token in the URL is always taken out of it, whatever else authenticates the request.
      if (query !== null) {
        if (!sameSecret(query, current)) return deny;
        const clean = new URL(url.href);
        clean.searchParams.delete('token');
        return {
          kind: 'redirect',
          location: `${clean.pathname}${clean.search}`,
          cookie: `${SESSION_COOKIE}=${sessionCookie(current, now())}; Path=/; Max-Age=${SESSION_TTL_S}; HttpOnly; SameSite=Strict`,
        };
      }
      if (header.startsWith('Bearer ') && sameSecret(header.slice(7).trim(), current)) return { kind: 'allow' };
      if (validSession(cookieValue(req, SESSION_COOKIE), current, now())) return { kind: 'allow' };
    }
    if (basic && header.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      // Both compared every time, so a wrong user and a wrong password take the same path.
      const userOk = sameSecret(colon >= 0 ? decoded.slice(0, colon) : '', basic.user);
      const passOk = sameSecret(colon >= 0 ? decoded.slice(colon + 1) : '', basic.password());
      if (colon >= 0 && userOk && passOk) return { kind: 'allow' };
    }
    return deny;
  };
}

/** Whether /metrics answers a request: a separate `http.metricsToken`, else the console's auth. */
export function createMetricsGate(http: Config['http'], opts: AuthOptions = {}): MetricsGate {
  if (http.metricsToken) {
    const token = liveSecret(http.metricsToken, opts.env ?? process.env);
    return (req) => {
      const header = req.headers.authorization ?? '';
      return header.startsWith('Bearer ') && sameSecret(header.slice(7).trim(), token());
    };
  }
  const gate = createAuthGate(http, opts);
  const url = new URL('http://localhost/metrics');
  return (req) => gate(req, url).kind === 'allow';
}
