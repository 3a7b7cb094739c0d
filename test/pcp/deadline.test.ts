import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NativeDriver } from '../../pcp/native.ts';
import { PcpProtocolError, PcpTimeoutError } from '../../pcp/errors/index.ts';
import { startPcpServer, type PcpServerOptions, type PcpTestServer } from '../../testkit/pcp-server.ts';
import { clusterFor, passfileFor, tempDir } from './helpers.ts';

/**
 * One deadline per PCP call, not per frame. Before it, a pgpool that sent a NOTICE just inside
 * every read's timeout held the caller for ever, and 128 node records trickled out one by one
 * took 128 × the gap. These tests hang (or succeed late) without the call-wide deadline; the
 * per-test timeout is only the net that turns a hang into a failure.
 */

const dir = tempDir();
const passfile = passfileFor(dir);
const bin = fileURLToPath(new URL('../../bin/pcpflow.js', import.meta.url));
after(() => dir.remove());

const NET = { timeout: 20_000 };

async function withServer(opts: PcpServerOptions, fn: (s: PcpTestServer) => Promise<void>): Promise<void> {
  const s = await startPcpServer(opts);
  try {
    await fn(s);
    await s.waitIdle();
  } finally {
    await s.stop();
  }
}

test('a NOTICE every 100 ms with readMs 400 ends the call with a timeout instead of holding it for ever', NET, async () => {
  await withServer({ backends: 3, fault: (r) => (r.type === 'I' ? { kind: 'notice-drip', everyMs: 100 } : undefined) }, async (s) => {
    const d = new NativeDriver(clusterFor([s], { passfile, timeouts: { readMs: 400 } }));
    await assert.rejects(d.nodes(), (e: unknown) => e instanceof PcpTimeoutError && e.phase === 'reply');
  });
});

test('128 node records sent 25 ms apart with readMs 400 time out as one reply (3.2 s of trickle)', NET, async () => {
  await withServer({ backends: 128, fault: (r) => (r.type === 'I' ? { kind: 'spaced', gapMs: 25 } : undefined) }, async (s) => {
    const d = new NativeDriver(clusterFor([s], { passfile, timeouts: { readMs: 400 } }));
    await assert.rejects(d.nodes(), (e: unknown) => e instanceof PcpTimeoutError && e.phase === 'reply');
  });
});

test('the same 128 records sent at once are read in one call', NET, async () => {
  await withServer({ backends: 128 }, async (s) => {
    const d = new NativeDriver(clusterFor([s], { passfile, timeouts: { readMs: 400 } }));
    assert.equal((await d.nodes({ deadlineMs: 5_000 })).value.nodes.length, 128);
  });
});

test('a flood of notices before the reply is a protocol error, not an endless loop', NET, async () => {
  const flood = Array.from({ length: 500 }, (_, i) => `notice ${i}`);
  await withServer({ backends: 3, fault: (r) => (r.type === 'I' ? { kind: 'notice', messages: flood } : undefined) }, async (s) => {
    let seen = 0;
    const d = new NativeDriver(clusterFor([s], { passfile }), { onNotice: () => seen++ });
    await assert.rejects(d.nodes(), (e: unknown) => e instanceof PcpProtocolError && /more than 32 notices/.test(e.message));
    assert.equal(seen, 32);
  });
});

test("the caller's deadlineMs covers every endpoint: two silent pgpools end at the call's deadline", NET, async () => {
  const a = await startPcpServer({ fault: (r) => (r.type === 'M' ? { kind: 'silence' } : undefined) });
  const b = await startPcpServer({ fault: (r) => (r.type === 'M' ? { kind: 'silence' } : undefined) });
  try {
    const d = new NativeDriver(clusterFor([a, b], { passfile, timeouts: { connectMs: 5_000, readMs: 5_000 } }));
    await assert.rejects(d.nodes({ deadlineMs: 300 }), (e: unknown) => e instanceof PcpTimeoutError && e.phase === 'call' && e.timeoutMs === 300);
    // the first endpoint asked used the whole budget; the other was never asked
    assert.equal(a.stats.opened + b.stats.opened, 1);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

function configFor(s: { port: number }): string {
  return dir.file(
    'drip.json',
    JSON.stringify({
      outbox: { dir: dir.path },
      clusters: [
        {
          name: 'c1',
          pcp: { endpoints: [{ host: '127.0.0.1', port: s.port }], user: 'pcpadmin', passfile },
          timeouts: { connectMs: 1000, readMs: 500 },
          backends: [{ address: '127.0.0.1', port: 15432 }],
        },
      ],
    }),
  );
}

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test('pcpflow pcp nodes and check-primary against a notice-dripping pgpool end with the deadline named', NET, async () => {
  await withServer({ backends: 3, fault: (r) => (r.type === 'I' ? { kind: 'notice-drip', everyMs: 100 } : undefined) }, async (s) => {
    const config = configFor(s);
    const nodes = await run(['pcp', 'nodes', '--config', config]);
    assert.equal(nodes.code, 1, nodes.stderr);
    assert.match(nodes.stderr, /no complete reply within 500 ms/);
    const check = await run(['pcp', 'check-primary', '127.0.0.1:15432', '--config', config]);
    assert.equal(check.code, 4, check.stderr);
  });
});
