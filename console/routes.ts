import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { AuditStore } from '../audit/store.ts';
import { graphvizLayout } from '../diagrams/graphviz.ts';
import { ClusterNameSchema, type ClusterConfig, type Config } from '../contracts/config.ts';
import { InvalidInputError } from '../contracts/errors.ts';
import { createPcpOps, type PcpOps } from '../pcp/index.ts';
import { createLogger, type Logger } from '../runtime/logger.ts';
import { redactText } from '../runtime/redact.ts';
import { createRedis } from '../runtime/redis.ts';
import type { RouteHandler } from '../workers/http.ts';
import { LIVE_CSP, REPORT_CSP } from './assets.ts';
import { createAuthGate, type AuthGate } from './auth.ts';
import { backendData, clusterView, overview, type DataDeps } from './data.ts';
import { createEventHub, type EventHub } from './events.ts';
import { backendMain, backendPage, clusterMain, clusterPage, incidentReportPage, messagePage, overviewMain, overviewPage, reportPage } from './pages.ts';
import { parseRange } from './range.ts';
import { NotFoundError } from './errors.ts';

/**
 * The read-only audit console: `/` (clusters and backends), `/cluster/<name>/backend/<addr>`
 * (diagram with the backend's path, audit timeline, chain verification), its `report.html`
 * export, and `/events` (server-sent events). Served by the worker and by `pcpflow console`.
 * Every route is a GET; none writes anywhere.
 */
export interface ConsoleHandle {
  routes: RouteHandler[];
  /** Ends event streams and releases the console's Redis connections. Idempotent. */
  close(): void;
}

const BACKEND_PATH = /^\/cluster\/([^/]+)\/backend\/([^/]+?)(\/report\.html)?\/?$/;
const CLUSTER_PATH = /^\/cluster\/([^/]+)(\/report\.html)?\/?$/;

const PageQuerySchema = z.object({ fragment: z.enum(['1']).optional(), cluster: z.optional(ClusterNameSchema) });

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': LIVE_CSP,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

function decodeSegment(text: string, what: string): string {
  let out: string;
  try {
    out = decodeURIComponent(text);
  } catch {
    throw new InvalidInputError(`${what}: not a valid URL segment`);
  }
  if (out.length > 300) throw new InvalidInputError(`${what}: longer than 300 characters`);
  return out;
}

export function createConsole(opts: { config: Config; audit?: AuditStore; env?: NodeJS.ProcessEnv; logger?: Logger }): ConsoleHandle {
  const { config, logger } = opts;
  const gate: AuthGate = createAuthGate(config.http, opts.env ? { env: opts.env } : {});
  const prefix = config.redis.keyPrefix;
  // Page reads fail fast when Redis is away (an error page beats a hung tab); the subscriber waits.
  const redis = createRedis(config.redis, 'producer');
  redis.on('error', () => undefined);
  let hub: EventHub | null = null;
  const eventHub = (): EventHub => {
    if (!hub) {
      const sub = createRedis(config.redis, 'worker');
      sub.on('error', () => undefined);
      hub = createEventHub(sub, prefix);
    }
    return hub;
  };
  const pcpCache = new Map<string, PcpOps>();
  let layout: Promise<(dot: string) => string> | null = null;
  const deps: DataDeps = {
    redis,
    prefix,
    audit: opts.audit ?? new AuditStore(redis, prefix),
    pcpFor: (c: ClusterConfig) => {
      let ops = pcpCache.get(c.name);
      if (!ops) pcpCache.set(c.name, (ops = createPcpOps(c, logger ? { logger } : {})));
      return ops;
    },
    // The WASM Graphviz takes a moment to load: once per process, on the first diagram.
    layout: () => (layout ??= graphvizLayout()),
  };
  const clusterNamed = (text: string): ClusterConfig => {
    const name = decodeSegment(text, 'cluster');
    const found = config.clusters.find((c) => c.name === name);
    if (!found) throw new NotFoundError(`no cluster named "${name}" in this console's config`);
    return found;
  };

  async function serve(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const q = PageQuerySchema.safeParse(Object.fromEntries(['fragment', 'cluster'].flatMap((k) => (url.searchParams.has(k) ? [[k, url.searchParams.get(k)]] : []))));
    if (!q.success) throw new InvalidInputError(`query ${q.error.issues[0]?.path.join('.') ?? ''}: ${q.error.issues[0]?.message ?? 'invalid'}`);
    const fragment = q.data.fragment === '1';

    if (url.pathname === '/events') {
      const cluster = q.data.cluster ?? null;
      if (cluster !== null && !config.clusters.some((c) => c.name === cluster)) throw new NotFoundError(`no cluster named "${cluster}"`);
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' }).end();
        return;
      }
      const h = eventHub();
      await h.ready();
      h.attach(res, cluster);
      return;
    }
    if (url.pathname === '/') {
      const statuses = await overview(deps, config.clusters);
      send(res, 200, fragment ? overviewMain(statuses).text : overviewPage(statuses));
      return;
    }
    const c = CLUSTER_PATH.exec(url.pathname);
    if (c?.[1]) {
      const cluster = clusterNamed(c[1]);
      const range = parseRange(url.searchParams);
      const [[status], view] = await Promise.all([overview(deps, [cluster]), clusterView(deps, cluster, range)]);
      if (!status) throw new NotFoundError(`no cluster named "${cluster.name}"`);
      if (c[2]) {
        send(res, 200, incidentReportPage(view), { 'content-security-policy': REPORT_CSP, 'content-disposition': `inline; filename="pcpflow-${cluster.name}-incident.html"` });
        return;
      }
      send(res, 200, fragment ? clusterMain(status, view, range).text : clusterPage(status, view, range));
      return;
    }
    const m = BACKEND_PATH.exec(url.pathname);
    if (!m?.[1] || !m[2]) throw new NotFoundError('no such page');
    const cluster = clusterNamed(m[1]);
    const address = decodeSegment(m[2], 'backend');
    const range = parseRange(url.searchParams);
    const data = await backendData(deps, cluster, address, range);
    if (!data) throw new NotFoundError(`cluster ${cluster.name} has no backend "${address}" and no audit record for it`);
    if (m[3]) {
      const file = `pcpflow-${cluster.name}-${address.replace(/[^A-Za-z0-9._-]+/g, '_')}.html`;
      send(res, 200, reportPage(data), { 'content-security-policy': REPORT_CSP, 'content-disposition': `inline; filename="${file}"` });
      return;
    }
    send(res, 200, fragment ? backendMain(data, { report: false }).text : backendPage(data));
  }

  const route: RouteHandler = async (req, res, url) => {
    if (url.pathname !== '/' && url.pathname !== '/events' && !url.pathname.startsWith('/cluster/')) return false;
    const auth = gate(req, url);
    if (auth.kind === 'deny') {
      send(res, 401, messagePage(401, 'unauthorized', 'This console needs a token or credentials.'), auth.headers);
      return true;
    }
    if (auth.kind === 'redirect') {
      res.writeHead(303, { location: auth.location, 'set-cookie': auth.cookie, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).end();
      return true;
    }
    try {
      await serve(req, res, url);
    } catch (err) {
      if (res.headersSent) {
        res.end();
      } else if (err instanceof NotFoundError) {
        send(res, 404, messagePage(404, 'not found', err.message));
      } else if (err instanceof InvalidInputError) {
        send(res, 400, messagePage(400, 'bad request', redactText(err.message)));
      } else {
        logger?.error({ err, path: url.pathname }, 'console page failed');
        send(res, 500, messagePage(500, 'internal error', 'The page could not be built; the log of this process says why.'));
      }
    }
    return true;
  };

  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    void hub?.close();
    redis.disconnect();
  };
  route.close = close;
  return { routes: [route], close };
}

/** What `pcpflow worker` mounts next to /healthz, /readyz and /metrics. */
export function consoleRoutes(ctx: { config: Config; audit: AuditStore }): RouteHandler[] {
  return createConsole({ ...ctx, logger: createLogger({ level: ctx.config.log.level, name: 'pcpflow-console' }) }).routes;
}
