import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../contracts/config.ts';
import { readSecret } from '../runtime/config.ts';

/**
 * Who may read the console. With `http.token`: `Authorization: Bearer <token>`, or `?token=`
 * once (answered with a redirect that drops it from the URL and a session cookie), or that
 * cookie. With `http.basicAuth`: basic credentials. With both, either is enough. With neither
 * the console is open (it binds to loopback by default). The cookie holds an HMAC derived from
 * the token, never the token, so nothing the browser keeps is the secret itself.
 */
export const SESSION_COOKIE = 'pcpflow_console';

export type AuthDecision =
  | { kind: 'allow' }
  /** The token came in the query: set the cookie and redirect to `location` (no token). */
  | { kind: 'redirect'; location: string; cookie: string }
  | { kind: 'deny'; headers: Record<string, string> };

export type AuthGate = (req: IncomingMessage, url: URL) => AuthDecision;

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Secrets are read once here (and registered for redaction); a missing one fails the start. */
export function createAuthGate(http: Config['http'], env: NodeJS.ProcessEnv = process.env): AuthGate {
  const token = http.token ? readSecret(http.token, env) : null;
  const basic = http.basicAuth ? { user: http.basicAuth.user, password: readSecret(http.basicAuth.password, env) } : null;
  if (!token && !basic) return () => ({ kind: 'allow' });
  const session = token ? createHmac('sha256', token).update('pcpflow console session v1').digest('hex') : null;
  const challenge: Record<string, string> = basic ? { 'www-authenticate': 'Basic realm="pcpflow console", charset="UTF-8"' } : {};

  return (req, url) => {
    const header = req.headers.authorization ?? '';
    if (token) {
      if (header.startsWith('Bearer ') && same(header.slice(7).trim(), token)) return { kind: 'allow' };
      const cookie = cookieValue(req, SESSION_COOKIE);
      if (session && cookie !== undefined && same(cookie, session)) return { kind: 'allow' };
      const query = url.searchParams.get('token');
      if (query !== null && same(query, token)) {
        const clean = new URL(url.href);
        clean.searchParams.delete('token');
        return {
          kind: 'redirect',
          location: `${clean.pathname}${clean.search}`,
          cookie: `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Strict`,
        };
      }
    }
    if (basic && header.startsWith('Basic ')) {
      const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      // Both compared every time, so a wrong user and a wrong password take the same path.
      const userOk = colon >= 0 && same(decoded.slice(0, colon), basic.user);
      const passOk = colon >= 0 && same(decoded.slice(colon + 1), basic.password);
      if (userOk && passOk) return { kind: 'allow' };
    }
    return { kind: 'deny', headers: challenge };
  };
}
