import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { RespClient, type RespReply } from '../hooks/resp.ts';

/** Running the real hook and CLI as EFM and a DBA would, in a sandbox with its own config and outbox. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const HOOK = join(ROOT, 'bin', 'pcpflow-hook.cjs');
export const CLI = join(ROOT, 'bin', 'pcpflow.js');
export const PREFIX = '{pcpflow}';

export interface Sandbox {
  dir: string;
  outbox: string;
  configPath: string;
  /** Rewrites the config (YAML) with these clusters and Redis URL. */
  writeConfig(opts: {
    redisUrl: string;
    clusters?: { name: string; fence?: { mode: string; timeoutMs: number } }[];
    publishTimeoutMs?: number;
  }): void;
  cleanup(): void;
}

export function sandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'pcpflow-hooks-'));
  const outbox = join(dir, 'outbox');
  const configPath = join(dir, 'pcpflow.yaml');
  return {
    dir,
    outbox,
    configPath,
    writeConfig({ redisUrl, clusters = [{ name: 'c1' }], publishTimeoutMs = 800 }) {
      const lines = [
        'redis:',
        `  url: ${redisUrl}`,
        `  publishTimeoutMs: ${publishTimeoutMs}`,
        'outbox:',
        `  dir: ${outbox}`,
        'clusters:',
        ...clusters.flatMap((c) => [
          `  - name: ${c.name}`,
          '    pcp: { endpoints: [{ host: 127.0.0.1 }], user: pcpadmin }',
          '    backends: [{ address: 10.0.0.1 }, { address: 10.0.0.2 }]',
          ...(c.fence ? [`    fence: { mode: ${c.fence.mode}, timeoutMs: ${c.fence.timeoutMs} }`] : []),
        ]),
      ];
      writeFileSync(configPath, `${lines.join('\n')}\n`);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface HookRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Spawns the real hook (the committed bundle, as EFM would) and waits for it to exit. */
export function runHook(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): Promise<HookRun> {
  return runNode(HOOK, args, env);
}

export function runCli(
  args: readonly string[],
  env: Record<string, string | undefined> = {},
): Promise<HookRun> {
  return runNode(CLI, args, env);
}

/**
 * The TMPDIR a hook gets unless the test names one: the hook keeps its parsed-config cache under
 * TMPDIR (hooks/yaml-cache.ts), and a test run must not leave that cache behind in /tmp.
 */
let scratch: string | undefined;
export function scratchTmp(): string {
  if (scratch === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'pcpflow-hook-tmp-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    scratch = dir;
  }
  return scratch;
}

/** Runs `file` (a hook loader or a CLI) with node and waits for it to exit. */
export function runNode(
  file: string,
  args: readonly string[],
  env: Record<string, string | undefined>,
): Promise<HookRun> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [file, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TMPDIR: scratchTmp(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child, started);
}

/** A spawned child's output and exit code, once it has closed; `ms` counts from `started`. */
export function collect(child: ChildProcessByStdio<null, Readable, Readable>, started = process.hrtime.bigint()): Promise<HookRun> {
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
  });
}

export async function redisCall(url: string, ...args: string[]): Promise<RespReply> {
  const u = new URL(url);
  const client = await RespClient.connect(
    { host: u.hostname, port: Number(u.port), db: 0 },
    Date.now() + 5000,
  );
  try {
    return await client.call(...args);
  } finally {
    client.close();
  }
}

export interface IntakeEntry {
  id: string;
  field: string;
  value: string;
}

export async function readIntake(url: string, cluster: string): Promise<IntakeEntry[]> {
  const reply = await redisCall(url, 'XRANGE', `${PREFIX}:intake:${cluster}`, '-', '+');
  if (!Array.isArray(reply)) throw new Error('XRANGE did not return an array');
  return reply.map((e) => {
    if (!Array.isArray(e) || !Array.isArray(e[1])) throw new Error('odd XRANGE entry');
    return { id: String(e[0]), field: String(e[1][0]), value: String(e[1][1]) };
  });
}

export async function readEvents(url: string, cluster: string): Promise<Record<string, unknown>[]> {
  return (await readIntake(url, cluster))
    .filter((e) => e.field === 'event')
    .map((e) => JSON.parse(e.value) as Record<string, unknown>);
}
