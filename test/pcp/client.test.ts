import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { NativeDriver } from '../../pcp/native.ts';
import { NodeInfoLayoutSchema } from '../../pcp/node-info.ts';
import type { PcpServerMessage } from '../../pcp/messages.ts';
import {
  PcpAbortedError,
  PcpAuthError,
  PcpClosedError,
  PcpConnectError,
  PcpEndpointsFailedError,
  PcpInvalidRequestError,
  PcpProtocolError,
  PcpServerError,
  PcpTimeoutError,
  PcpUnsupportedError,
} from '../../pcp/errors/index.ts';
import { startPcpServer, type PcpServerOptions, type PcpTestServer } from '../../testkit/pcp-server.ts';
import { clusterFor, passfileFor, tempDir } from './helpers.ts';

const dir = tempDir();
const passfile = passfileFor(dir);
after(() => dir.remove());

async function withServer(opts: PcpServerOptions, fn: (s: PcpTestServer, d: NativeDriver) => Promise<void>, timeouts = {}): Promise<void> {
  const s = await startPcpServer(opts);
  try {
    await fn(s, new NativeDriver(clusterFor([s], { passfile, timeouts })));
    // every operation logs out and closes: no PCP connection may outlive it (pgpool 4.0-4.4 stall)
    await s.waitIdle();
  } finally {
    await s.stop();
  }
}

for (const layout of NodeInfoLayoutSchema.options) {
  test(`nodes() against a layout ${layout} server: all nodes, one connection, orderly logout`, async () => {
    await withServer({ layout, backends: 3 }, async (s, d) => {
      const a = await d.nodes();
      assert.equal(a.endpoint, `127.0.0.1:${s.port}`);
      assert.equal(a.value.layout, layout);
      assert.deepEqual(
        a.value.nodes.map((n) => [n.id, n.port, n.status, n.role]),
        [
          [0, 15432, 'up', 'primary'],
          [1, 15433, 'up', 'standby'],
          [2, 15434, 'up', 'standby'],
        ],
      );
      assert.equal(s.stats.opened, 1);
      await s.waitIdle();
      assert.equal(s.stats.loggedOut, 1);
      const types = s.requests.map((r) => r.type).join('');
      // ≤4.2 refuses I -1 (ERROR, connection stays usable) and is asked node by node
      assert.equal(types, ['E', 'F', 'G'].includes(layout) ? 'MRIX' : 'MRILIIIX');
    });
  });
}

test('node count, health check stats, pool status', async () => {
  await withServer({ backends: 4 }, async (_s, d) => {
    assert.equal((await d.nodeCount()).value, 4);
    const h = (await d.healthCheckStats(2)).value;
    assert.equal(h.nodeId, 2);
    assert.equal(h.port, 15434);
    assert.equal(h.lastSkipHealthCheck, '');
    const p = (await d.poolStatus()).value;
    assert.deepEqual(p[1], { name: 'port', value: '9999', description: 'pgpool accepting port number' });
  });
});

test('watchdog info: JSON validated; disabled watchdog is a typed server error', async () => {
  const watchdog = {
    RemoteNodeCount: 1, QuorumStatus: -1, AliveNodeCount: 0, Escalated: 0, LeaderNodeName: 'a:9999 Linux', LeaderHostName: 'a',
    NodeCount: 2, WatchdogNodes: [{ ID: 0, NodeName: 'a:9999 Linux', HostName: 'a', State: 4, StateName: 'LEADER', PgpoolPort: 9999 }],
  };
  await withServer({ watchdog }, async (_s, d) => {
    const w = (await d.watchdog()).value;
    assert.equal(w.leaderNodeName, 'a:9999 Linux');
    assert.equal(w.WatchdogNodes[0]?.StateName, 'LEADER');
  });
  await withServer({}, async (_s, d) => {
    await assert.rejects(d.watchdog(), (e: unknown) => e instanceof PcpServerError && e.report.detail === 'watchdog is not enabled');
  });
});

test('a wrong password is a PcpAuthError naming the user, never the password', async () => {
  const s = await startPcpServer({ users: { pcpadmin: 'right-one' } });
  try {
    const d = new NativeDriver(clusterFor([s], { passfile }));
    await assert.rejects(d.nodes(), (e: unknown) => e instanceof PcpAuthError && /"pcpadmin"/.test(e.message) && !e.message.includes('secret') && !e.retryable);
    assert.equal(s.stats.authFailures, 1);
    await s.waitIdle();
  } finally {
    await s.stop();
  }
});

test('connection refused is a PcpConnectError', async () => {
  const s = await startPcpServer();
  const port = s.port;
  await s.stop();
  const d = new NativeDriver(clusterFor([{ host: '127.0.0.1', port }], { passfile }));
  await assert.rejects(d.nodes(), (e: unknown) => e instanceof PcpConnectError && /ECONNREFUSED/.test(e.message));
});

test('a silent server (no salt) hits the read deadline, phase salt', async () => {
  await withServer({ fault: (r) => (r.type === 'M' ? { kind: 'silence' } : undefined) }, async (_s, d) => {
    const t0 = performance.now();
    await assert.rejects(d.nodes(), (e: unknown) => e instanceof PcpTimeoutError && e.phase === 'salt');
    assert.ok(performance.now() - t0 < 5_000, 'gave up on its own deadline');
  }, { readMs: 200 });
});

test('a reply slower than the deadline is a timeout; the socket is closed', async () => {
  await withServer({}, async (s, d) => {
    s.faultOnce('I', { kind: 'delay', ms: 800 });
    await assert.rejects(d.nodes(), (e: unknown) => e instanceof PcpTimeoutError && e.phase === 'reply');
  }, { readMs: 150 });
});

test('truncated frame then close: PcpClosedError', async () => {
  await withServer({}, async (s, d) => {
    s.faultOnce('I', { kind: 'truncate', bytes: 12 });
    await assert.rejects(d.nodes(), PcpClosedError);
  });
});

test('connection closed mid multi-frame reply (after ArraySize)', async () => {
  await withServer({}, async (s, d) => {
    s.faultOnce('I', { kind: 'truncate', bytes: 20 });
    await assert.rejects(d.nodes(), PcpClosedError);
    s.faultOnce('I', { kind: 'close' });
    await assert.rejects(d.nodes(), PcpClosedError);
  });
});

test('garbage instead of a reply: PcpProtocolError, connection dropped', async () => {
  await withServer({}, async (s, d) => {
    s.faultOnce('M', { kind: 'garbage' });
    await assert.rejects(d.nodes(), PcpProtocolError);
    s.faultOnce('I', { kind: 'garbage', bytes: Buffer.from([0x69, 0, 0, 0, 1]) });
    await assert.rejects(d.nodes(), PcpProtocolError);
    s.faultOnce('L', { kind: 'garbage', bytes: Buffer.concat([Buffer.from([0x6c, 0, 0, 0, 13]), Buffer.from('Nonsense\0')]) });
    await assert.rejects(d.nodeCount(), (e: unknown) => e instanceof PcpProtocolError && /Nonsense/.test(e.message));
    s.faultOnce('I', { kind: 'garbage', bytes: Buffer.concat([Buffer.from([0x69, 0, 0, 0, 0x12]), Buffer.from('ArraySize\0' + '999\0')]) });
    await assert.rejects(d.nodes(), PcpProtocolError);
  });
});

test('a server that is not PCP at all (HTTP-ish banner)', async () => {
  const srv = createServer((sock: Socket) => sock.end('SSH-2.0-OpenSSH_9.2\r\n'));
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  assert.ok(addr && typeof addr === 'object');
  try {
    const d = new NativeDriver(clusterFor([{ host: '127.0.0.1', port: addr.port }], { passfile }));
    await assert.rejects(d.nodes(), (e: unknown) => e instanceof PcpProtocolError || e instanceof PcpClosedError);
  } finally {
    srv.close();
  }
});

test('AbortSignal cancels a pending request at once and closes the socket', async () => {
  await withServer({}, async (s, d) => {
    s.faultOnce('I', { kind: 'silence' });
    const ac = new AbortController();
    const p = d.nodes({ signal: ac.signal });
    // abort once the request is on the wire, not on a timer
    const deadline = Date.now() + 2_000;
    while (!s.requests.some((r) => r.type === 'I')) {
      assert.ok(Date.now() < deadline, 'request never arrived');
      await new Promise((r) => setImmediate(r));
    }
    ac.abort();
    await assert.rejects(p, PcpAbortedError);
    const pre = new AbortController();
    pre.abort();
    await assert.rejects(d.nodes({ signal: pre.signal }), PcpAbortedError);
  }, { readMs: 10_000 });
});

test('notices before a reply are surfaced and skipped; ERROR keeps the reply typed', async () => {
  const s = await startPcpServer();
  try {
    const seen: PcpServerMessage[] = [];
    const d = new NativeDriver(clusterFor([s], { passfile }), { onNotice: (n) => seen.push(n) });
    s.faultOnce('L', { kind: 'notice', messages: ['But cluster is not in stable state'], severity: 'NOTICE' });
    assert.equal((await d.nodeCount()).value, 3);
    assert.equal(seen[0]?.message, 'But cluster is not in stable state');
    s.faultOnce('L', { kind: 'error', severity: 'ERROR', message: 'boom', detail: 'some detail' });
    await assert.rejects(d.nodeCount(), (e: unknown) => e instanceof PcpServerError && !e.fatal && e.report.detail === 'some detail');
    await s.waitIdle();
  } finally {
    await s.stop();
  }
});

test('detach of a down node: pgpool ERROR surfaces typed; promote of the primary: FATAL', async () => {
  await withServer({}, async (s, d) => {
    const b2 = s.backends[2];
    assert.ok(b2);
    b2.status = 3;
    await assert.rejects(d.detach(2), (e: unknown) => e instanceof PcpServerError && /status: \[3\]/.test(e.message));
    await assert.rejects(d.promote(0), (e: unknown) => e instanceof PcpServerError && e.fatal && /already primary/.test(e.report.detail ?? ''));
  });
});

test('node ids are validated client-side: nothing reaches pgpool', async () => {
  await withServer({ backends: 2 }, async (s, d) => {
    for (const bad of [2, -1, 1.5, Number.NaN, 127]) {
      await assert.rejects(d.detach(bad), PcpInvalidRequestError);
      await assert.rejects(d.attach(bad), PcpInvalidRequestError);
      await assert.rejects(d.promote(bad), PcpInvalidRequestError);
    }
    assert.ok(!s.requests.some((r) => ['C', 'D', 'J'].includes(r.type)));
  });
});

test('promote wire form is "<id> \\0" + n; switchover needs a 4.3+ layout', async () => {
  await withServer({ layout: 'F' }, async (s, d) => {
    await d.promote(1);
    const j = s.requests.find((r) => r.type === 'J');
    assert.deepEqual([...(j?.payload ?? [])], [0x31, 0x20, 0x00, 0x6e]);
  });
  await withServer({ layout: 'D' }, async (s, d) => {
    await assert.rejects(d.promote(1, { switchover: true }), PcpUnsupportedError);
    assert.ok(!s.requests.some((r) => r.type === 'J'));
  });
});

test('user names of 128 bytes or more are refused before connecting', async () => {
  await withServer({}, async (s) => {
    const anyUser = dir.file('anyuser', '*:*:*:secret\n');
    const d = new NativeDriver(clusterFor([s], { passfile: anyUser, user: 'u'.repeat(127) }));
    await assert.rejects(d.nodes(), PcpAuthError); // 127 bytes is allowed; the server just does not know it
    const long = new NativeDriver({ ...clusterFor([s], { passfile }), pcp: { ...clusterFor([s], { passfile }).pcp, user: 'u'.repeat(128) } });
    await assert.rejects(long.nodes(), PcpInvalidRequestError);
  });
});

test('endpoints in order: the first one down, the second answers and is named', async () => {
  const dead = await startPcpServer();
  const deadPort = dead.port;
  await dead.stop();
  const live = await startPcpServer();
  try {
    const d = new NativeDriver(clusterFor([{ host: '127.0.0.1', port: deadPort }, live], { passfile }));
    const a = await d.nodes();
    assert.equal(a.endpoint, `127.0.0.1:${live.port}`);
    await d.detach(1);
    await live.waitIdle();
  } finally {
    await live.stop();
  }
});

test('an action is not repeated on the next endpoint once it may have been queued', async () => {
  const first = await startPcpServer();
  const second = await startPcpServer();
  try {
    first.faultOnce('D', { kind: 'silence' });
    const d = new NativeDriver(clusterFor([first, second], { passfile, timeouts: { readMs: 150 } }));
    await assert.rejects(d.detach(1), PcpTimeoutError);
    assert.ok(!second.requests.some((r) => r.type === 'D'), 'second pgpool must not get the detach too');
    // a read moves on after the same failure
    first.faultOnce('I', { kind: 'silence' });
    assert.equal((await d.nodes()).endpoint, `127.0.0.1:${second.port}`);
  } finally {
    await first.stop();
    await second.stop();
  }
});

test('all endpoints failing: one error listing each', async () => {
  const a = await startPcpServer();
  const b = await startPcpServer();
  const ports = [a.port, b.port];
  await a.stop();
  await b.stop();
  const d = new NativeDriver(clusterFor(ports.map((port) => ({ host: '127.0.0.1', port })), { passfile }));
  await assert.rejects(d.nodes(), (e: unknown) => e instanceof PcpEndpointsFailedError && e.failures.length === 2 && e.retryable);
});

test('requests of 260 bytes or more are refused client-side (pgpool would drop the connection)', async () => {
  const { PcpConnection } = await import('../../pcp/connection.ts');
  await withServer({}, async (s) => {
    const c = await PcpConnection.open({ host: s.host, port: s.port, name: 'x', connectMs: 1000, readMs: 1000 });
    try {
      assert.throws(() => c.send('I', Buffer.alloc(256)), PcpInvalidRequestError); // length field 260
      c.send('I', Buffer.alloc(255)); // length field 259: the largest pgpool reads
    } finally {
      c.destroy();
    }
  });
});
