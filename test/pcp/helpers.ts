import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterConfigSchema, type ClusterConfig } from '../../contracts/config.ts';
import type { PcpTestServer } from '../../testkit/pcp-server.ts';

export interface TempDir {
  path: string;
  file(name: string, content: string | Buffer, mode?: number): string;
  remove(): void;
}

export function tempDir(): TempDir {
  const path = mkdtempSync(join(tmpdir(), 'pcpflow-pcp-'));
  return {
    path,
    file(name, content, mode = 0o600) {
      const p = join(path, name);
      writeFileSync(p, content);
      chmodSync(p, mode);
      return p;
    },
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/** A cluster config pointing at test servers (in order), with short deadlines. */
export function clusterFor(
  servers: readonly { host: string; port: number }[],
  opts: { passfile: string; user?: string; timeouts?: Partial<ClusterConfig['timeouts']>; backends?: ClusterConfig['backends']; driver?: 'native' | 'binaries' },
): ClusterConfig {
  return ClusterConfigSchema.parse({
    name: 'test',
    pcp: { endpoints: servers.map((s) => ({ host: s.host, port: s.port })), user: opts.user ?? 'pcpadmin', passfile: opts.passfile, driver: opts.driver ?? 'native' },
    timeouts: { connectMs: 1_000, readMs: 1_000, verifyMs: 2_000, pollIntervalMs: 10, ...opts.timeouts },
    backends: opts.backends ?? [
      { address: '127.0.0.1', port: 15432 },
      { address: '127.0.0.1', port: 15433 },
      { address: '127.0.0.1', port: 15434 },
    ],
  });
}

/** A 0600 passfile with a wildcard line for the given password. */
export function passfileFor(dir: TempDir, password = 'secret', user = 'pcpadmin'): string {
  return dir.file('pcppass', `*:*:${user}:${password}\n`);
}

export async function withServers<T>(servers: PcpTestServer[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}
