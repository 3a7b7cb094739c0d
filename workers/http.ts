import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';

export type RouteHandler = ((req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> | boolean) & {
  /**
   * Called as the server starts closing. A route that holds responses open (the console's event
   * streams) ends them here, else server.close() would wait for every open browser tab.
   */
  close?: () => void;
};

/** Whether a request may read /metrics: console/auth.ts builds it from the config's http section. */
export type MetricsGate = (req: IncomingMessage) => boolean;

/**
 * The fleet member's HTTP face: /healthz (the process is alive), /readyz (its Redis answers and
 * its roles are running), both open and saying nothing about clusters; /metrics (Prometheus),
 * behind the console's auth or its own token (metricsGate). Extra read-only routes (the audit console) are
 * plugged in by the caller. Nothing served here changes state.
 */
export function startHttp(opts: {
  host: string;
  port: number;
  registry: Registry;
  ready: () => Promise<boolean>;
  routes?: RouteHandler[];
  /** Whether a request may read /metrics (the console's auth or a metrics token); absent: open. */
  metricsGate?: MetricsGate;
}): Promise<Server> {
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end('read-only\n');
        return;
      }
      if (url.pathname === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
        return;
      }
      if (url.pathname === '/readyz') {
        const ok = await opts.ready().catch(() => false);
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ready\n' : 'not ready\n');
        return;
      }
      if (url.pathname === '/metrics') {
        if (opts.metricsGate && !opts.metricsGate(req)) {
          res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Bearer realm="pcpflow metrics"' }).end('unauthorized\n');
          return;
        }
        res.writeHead(200, { 'content-type': opts.registry.contentType }).end(await opts.registry.metrics());
        return;
      }
      for (const route of opts.routes ?? []) if (await route(req, res, url)) return;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end('internal error\n');
    });
  });
  const close = server.close.bind(server);
  server.close = ((callback?: (err?: Error) => void) => {
    for (const route of opts.routes ?? []) route.close?.();
    return close(callback);
  }) as Server['close'];
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve(server));
  });
}
