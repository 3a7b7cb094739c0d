import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startPcpServer, type PcpTestServer } from '../../testkit/pcp-server.ts';
import { passfileFor, tempDir } from './helpers.ts';

/** `pcpflow pcp …` end to end (a real process) against the PCP test server. */

const dir = tempDir();
const passfile = passfileFor(dir);
const bin = fileURLToPath(new URL('../../bin/pcpflow.js', import.meta.url));
after(() => dir.remove());

function configFor(s: { port: number }, name = 'c1'): string {
  return dir.file(
    `${name}.json`,
    JSON.stringify({
      outbox: { dir: dir.path },
      clusters: [
        {
          name,
          pcp: { endpoints: [{ host: '127.0.0.1', port: s.port }], user: 'pcpadmin', passfile },
          timeouts: { connectMs: 1000, readMs: 1000, verifyMs: 2000, pollIntervalMs: 10 },
          backends: [{ address: '127.0.0.1', port: 15432 }, { address: '127.0.0.1', port: 15433 }, { address: '127.0.0.1', port: 15434 }],
        },
      ],
    }),
  );
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, 'pcp', ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function withServer(fn: (s: PcpTestServer, config: string) => Promise<void>): Promise<void> {
  const s = await startPcpServer({ backends: 3, effectDelayMs: 20 });
  try {
    await fn(s, configFor(s));
  } finally {
    await s.stop();
  }
}

test('nodes --json: an array with id, address, port, status, role and the layout extras', async () => {
  await withServer(async (_s, config) => {
    const r = await run(['nodes', '--json', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    const arr = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.equal(arr.length, 3);
    assert.deepEqual(arr[1] && [arr[1].id, arr[1].address, arr[1].port, arr[1].status, arr[1].role], [1, '127.0.0.1:15433', 15433, 'up', 'standby']);
    assert.equal(arr[1]?.replicationState, 'streaming');
    assert.equal(arr[1]?.layout, 'F');
    const table = await run(['nodes'], { PCPFLOW_CONFIG: config, PCPFLOW_CLUSTER: 'c1' });
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^id\s+address\s+status\s+role/);
  });
});

test('detach / attach / promote: changed, then already; exit 0', async () => {
  await withServer(async (s, config) => {
    const d = await run(['detach', '127.0.0.1:15434', '--direct', '--config', config]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /detached, confirmed/);
    assert.equal(s.backends[2]?.status, 3);
    const again = await run(['detach', '127.0.0.1:15434', '--direct', '--config', config, '--json']);
    assert.equal(again.code, 0);
    assert.equal((JSON.parse(again.stdout) as { result: string }).result, 'already');
    assert.equal((await run(['attach', '127.0.0.1:15434', '--direct', '--config', config])).code, 0);
    const p = await run(['promote', '127.0.0.1:15433', '--direct', '--config', config]);
    assert.equal(p.code, 0, p.stderr);
    assert.equal(s.backends[1]?.role, 'primary');
  });
});

test('check-primary: 0 primary, 1 standby, 2 not a configured backend or bad input, 4 pgpool unreachable', async () => {
  await withServer(async (_s, config) => {
    assert.equal((await run(['check-primary', '127.0.0.1:15432', '--config', config])).code, 0);
    assert.equal((await run(['check-primary', '127.0.0.1:15433', '--config', config])).code, 1);
    const unknown = await run(['check-primary', '10.1.1.1', '--config', config]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /<address>: 10\.1\.1\.1 is not a backend of cluster c1; configured backends: 127\.0\.0\.1:15432, 127\.0\.0\.1:15433, 127\.0\.0\.1:15434/);
    // All three share a host, told apart by port: a bare host is ambiguous, never a guess.
    const shared = await run(['detach', '127.0.0.1', '--config', config]);
    assert.equal(shared.code, 2);
    assert.match(shared.stderr, /127\.0\.0\.1 is ambiguous in cluster c1: it matches 127\.0\.0\.1:15432, 127\.0\.0\.1:15433, 127\.0\.0\.1:15434; name one as host:port/);
    assert.equal((await run(['attach', '300.1.1.1', '--config', config])).code, 2);
    const bad = await run(['check-primary', '$(reboot)', '--config', config]);
    assert.equal(bad.code, 2);
    assert.equal((await run(['detach', 'a b', '--config', config])).code, 2);
    assert.equal((await run(['detach', '127.0.0.1:15434', '--direct', '--config', config, '--verify-ms', 'soon'])).code, 2);
    assert.equal((await run(['frobnicate', '--config', config])).code, 2);
  });
  const gone = await startPcpServer();
  const config = configFor(gone, 'c2');
  await gone.stop();
  const r = await run(['check-primary', '127.0.0.1:15432', '--config', config]);
  assert.equal(r.code, 4);
  assert.match(r.stderr, /ECONNREFUSED/);
  const d = await run(['detach', '127.0.0.1:15432', '--direct', '--config', config]);
  assert.equal(d.code, 1);
});

test('check-primary answers alike on its fast path (build/check-primary.js) and through commander', async () => {
  await withServer(async (_s, config) => {
    for (const address of ['127.0.0.1:15432', '127.0.0.1:15433', '10.1.1.1', '$(reboot)']) {
      for (const json of [[], ['--json']]) {
        const fast = await run(['check-primary', address, '--config', config, ...json]);
        // `--` is no form the fast path takes: commander parses it and runs the same action.
        const slow = await run(['check-primary', '--config', config, ...json, '--', address]);
        assert.deepEqual(fast, slow, `${address} ${json.join(' ')}`);
      }
    }
  });
});

test('watchdog: disabled is reported with pgpool\'s reason', async () => {
  await withServer(async (_s, config) => {
    const r = await run(['watchdog', '--config', config]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /watchdog is not enabled/);
  });
});
