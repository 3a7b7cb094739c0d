import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';

/** A free TCP port on a loopback address, chosen by the kernel. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const srv = createServer();
  srv.listen(0, host);
  await once(srv, 'listening');
  const addr = srv.address();
  srv.close();
  if (!addr || typeof addr === 'string') throw new Error('no port');
  return addr.port;
}

export interface TestRedis {
  url: string;
  port: number;
  pid(): number | undefined;
  stop(): Promise<void>;
  /** Starts it again on the same port (for outage tests). */
  start(): Promise<void>;
}

/**
 * A private redis-server for one test file: its own port, no persistence, stopped by pid.
 * Tests never share the machine's Redis on 6379, so they cannot see each other's keys.
 */
export async function startRedis(opts: { host?: string; port?: number; persistDir?: string } = {}): Promise<TestRedis> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(host));
  let child: ChildProcess | undefined;

  async function start(): Promise<void> {
    // persistDir: an append-only file fsynced on every write, for tests that restart Redis.
    const persistence = opts.persistDir
      ? ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', opts.persistDir]
      : ['--appendonly', 'no'];
    child = spawn('redis-server', ['--bind', host, '--port', String(port), '--save', '', ...persistence], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const onData = (b: Buffer) => {
        out += b.toString();
        if (out.includes('Ready to accept connections')) resolve();
      };
      child?.stdout?.on('data', onData);
      child?.once('exit', (code) => reject(new Error(`redis-server exited ${code}: ${out.slice(-500)}`)));
    });
  }

  async function stop(): Promise<void> {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill('SIGKILL');
    await exited;
  }

  await start();
  return { url: `redis://${host}:${port}`, port, pid: () => child?.pid, stop, start };
}
