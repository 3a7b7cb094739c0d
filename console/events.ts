import type { ServerResponse } from 'node:http';
import { keys } from '../contracts/keys.ts';
import type { RedisClient } from '../runtime/redis.ts';

/**
 * Server-sent events for live pages. One Redis subscriber per console process listens on the
 * audit channel (each message is the name of a cluster whose trail grew) and fans out to the
 * open streams that asked for that cluster. Nothing is replayed: a page that reconnects reloads
 * its fragment instead, so the stream carries only "cluster X changed".
 */
export interface EventHub {
  /** Resolves once subscribed, so a stream that opened will see every later append. */
  ready(): Promise<void>;
  attach(res: ServerResponse, cluster: string | null): void;
  clients(): number;
  close(): Promise<void>;
}

const HEARTBEAT_MS = 15_000;

export function createEventHub(subscriber: RedisClient, prefix: string): EventHub {
  const streams = new Map<ServerResponse, string | null>();
  const channel = keys.auditChannel(prefix);
  let subscribed: Promise<void> | null = null;

  subscriber.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    // A cluster name is [a-z0-9_-]; anything else on the channel is not ours to forward.
    if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(message)) return;
    for (const [res, cluster] of streams) if (cluster === null || cluster === message) res.write(`event: audit\ndata: ${message}\n\n`);
  });

  const heartbeat = setInterval(() => {
    for (const res of streams.keys()) res.write(': keep-alive\n\n');
  }, HEARTBEAT_MS);
  heartbeat.unref();

  return {
    ready() {
      subscribed ??= subscriber.subscribe(channel).then(
        () => undefined,
        (err: unknown) => {
          subscribed = null;
          throw err;
        },
      );
      return subscribed;
    },
    attach(res, cluster) {
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
        connection: 'keep-alive',
      });
      // retry: how long a browser waits before it reconnects (after a worker restart, say).
      res.write('retry: 2000\n: connected\n\n');
      streams.set(res, cluster);
      res.on('close', () => streams.delete(res));
    },
    clients: () => streams.size,
    async close() {
      clearInterval(heartbeat);
      for (const res of streams.keys()) res.end();
      streams.clear();
      subscriber.disconnect();
    },
  };
}
