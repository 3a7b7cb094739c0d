import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  host: string;
  port: number;
  /** Stops forwarding in both directions; bytes wait in the kernel until resume(). */
  pause(): void;
  resume(): void;
  connections(): number;
  stop(): Promise<void>;
}

/**
 * A loopback TCP relay in front of a real server (pgpool's PCP port) that a test can freeze.
 * With it a test can catch a worker in the middle of a PCP exchange, deterministically,
 * without changing anything in the worker or in pgpool.
 */
export async function startProxy(target: { host: string; port: number }, host = '127.0.0.1'): Promise<TcpProxy> {
  let paused = false;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
      if (paused) s.pause();
    }
    client.on('data', (b) => upstream.write(b));
    upstream.on('data', (b) => client.write(b));
  });
  server.listen(0, host);
  await once(server, 'listening');
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('proxy has no port');
  return {
    host,
    port: addr.port,
    pause() {
      paused = true;
      for (const s of sockets) s.pause();
    },
    resume() {
      paused = false;
      for (const s of sockets) s.resume();
    },
    connections: () => sockets.size / 2,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
