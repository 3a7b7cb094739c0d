/**
 * What `redis.url` may be, checked without zod so the hook (hooks/config.ts) and the full schema
 * (contracts/config.ts) refuse exactly the same URLs. Everything createRedis and the hook's
 * endpointFrom later read from the URL is checked here, so a URL that passes cannot crash them:
 * scheme, host, port, the db number in the path, and percent-escapes in the credentials.
 * Returns null when the URL is usable, else the reason.
 */
export function redisUrlProblem(text: string): string | null {
  if (!/^rediss?:\/\//.test(text)) return 'must start with redis:// or rediss://';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is not a valid URL (check brackets around IPv6 hosts, the port and any @ or % in the password)';
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') return 'has no host (redis://HOST:PORT)';
  if (url.port !== '' && (Number(url.port) < 1 || Number(url.port) > 65535)) return `port ${url.port} is not 1-65535`;
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/\d{1,5}$/.test(url.pathname))
    return `path "${url.pathname.slice(0, 40)}" is not a database number (redis://HOST:PORT/0)`;
  if (url.search !== '' || url.hash !== '') return 'has a query or fragment; pcpflow reads no URL options (use the redis.* config keys)';
  for (const [what, part] of [
    ['user name', url.username],
    ['password', url.password],
  ] as const) {
    try {
      decodeURIComponent(part);
    } catch {
      return `${what} has a broken %-escape; write % as %25`;
    }
  }
  return null;
}
