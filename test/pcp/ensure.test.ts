import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { opsOver, type PcpOps } from '../../pcp/index.ts';
import { NativeDriver } from '../../pcp/native.ts';
import { resolveNodeId } from '../../pcp/resolve.ts';
import { decodeNodeInfo, layoutFields, type NodeInfo } from '../../pcp/node-info.ts';
import { PcpAmbiguousAddressError, PcpInvalidRequestError, PcpUnknownAddressError } from '../../pcp/errors/index.ts';
import { startPcpServer, type PcpServerOptions, type PcpTestServer } from '../../testkit/pcp-server.ts';
import { clusterFor, passfileFor, tempDir } from './helpers.ts';
import type { ClusterConfig } from '../../contracts/config.ts';

const dir = tempDir();
const passfile = passfileFor(dir);
after(() => dir.remove());

async function withOps(opts: PcpServerOptions, fn: (s: PcpTestServer, ops: PcpOps) => Promise<void>, extra: Partial<Parameters<typeof clusterFor>[1]> = {}): Promise<void> {
  const s = await startPcpServer(opts);
  try {
    const cluster = clusterFor([s], { passfile, ...extra });
    await fn(s, opsOver(cluster, new NativeDriver(cluster)));
    await s.waitIdle();
  } finally {
    await s.stop();
  }
}
const actions = (s: PcpTestServer): string => s.requests.filter((r) => ['C', 'D', 'J'].includes(r.type)).map((r) => r.type).join('');

test('ensureDetached: detaches, then confirms by polling (effect lags the reply)', async () => {
  await withOps({ effectDelayMs: 60 }, async (s, ops) => {
    const o = await ops.ensureDetached('127.0.0.1:15434');
    assert.equal(o.result, 'changed');
    assert.equal(o.nodeId, 2);
    assert.equal(o.endpoint, `127.0.0.1:${s.port}`);
    assert.equal(s.backends[2]?.status, 3);
    assert.equal(actions(s), 'D');
    const again = await ops.ensureDetached('127.0.0.1:15434');
    assert.equal(again.result, 'already');
    assert.equal(actions(s), 'D', 'no second detach');
  });
});

test('ensureDetached: a race where the node went down meanwhile counts as already', async () => {
  await withOps({}, async (s, ops) => {
    // pgpool answers "not valid for failover" because someone else detached it first
    s.faultOnce('D', { kind: 'error', severity: 'ERROR', message: 'invalid degenerate backend request, node id : 1 status: [3] is not valid for failover' });
    const b = s.backends[1];
    assert.ok(b);
    s.setFault((r) => {
      if (r.type === 'D') b.status = 3;
      return undefined;
    });
    const o = await ops.ensureDetached('127.0.0.1:15433');
    assert.equal(o.result, 'already');
  });
});

test('ensureAttached: up or waiting is already; down is attached and confirmed', async () => {
  await withOps({ effectDelayMs: 30 }, async (s, ops) => {
    assert.equal((await ops.ensureAttached('127.0.0.1:15433')).result, 'already');
    const b = s.backends[1];
    assert.ok(b);
    b.status = 3;
    const o = await ops.ensureAttached('127.0.0.1:15433');
    assert.equal(o.result, 'changed');
    assert.equal(b.status, 1);
    assert.equal(actions(s), 'C');
  });
});

test('ensurePrimary: promote a standby; pgpool marks the others down', async () => {
  await withOps({ effectDelayMs: 20 }, async (s, ops) => {
    const o = await ops.ensurePrimary('127.0.0.1:15433');
    assert.equal(o.result, 'changed');
    assert.deepEqual(s.backends.map((b) => [b.role, b.status]), [['standby', 3], ['primary', 2], ['standby', 3]]);
    assert.equal((await ops.ensurePrimary('127.0.0.1:15433')).result, 'already');
    assert.equal(actions(s), 'J');
  });
});

test('ensurePrimary: a down node is attached first (pgpool ignores promote of a down node)', async () => {
  await withOps({}, async (s, ops) => {
    const b = s.backends[2];
    assert.ok(b);
    b.status = 3;
    const o = await ops.ensurePrimary('127.0.0.1:15434');
    assert.equal(o.result, 'changed');
    assert.equal(actions(s), 'CJ');
    assert.equal(s.backends[2]?.role, 'primary');
  });
});

test('ensurePrimary: "already primary" FATAL from a race is success', async () => {
  await withOps({}, async (s, ops) => {
    s.setFault((r) => {
      if (r.type === 'J') s.backends.forEach((b, i) => (b.role = i === 1 ? 'primary' : 'standby'));
      return undefined;
    });
    const o = await ops.ensurePrimary('127.0.0.1:15433');
    assert.equal(o.result, 'already');
  });
});

test('transient: a reset node-info connection (PCP restart window) is retried within the deadline', async () => {
  await withOps({}, async (s, ops) => {
    s.faultOnce('I', { kind: 'close' });
    s.faultOnce('M', { kind: 'truncate', bytes: 3 });
    const o = await ops.ensureDetached('127.0.0.1:15434');
    assert.equal(o.result, 'changed', o.reason);
    assert.equal(actions(s), 'D');
  });
});

test('transient: the detach reply is lost but pgpool queued it: re-read, no second detach', async () => {
  await withOps({}, async (s, ops) => {
    s.faultOnce('D', { kind: 'close' });
    const o = await ops.ensureDetached('127.0.0.1:15434');
    assert.equal(o.result, 'changed', o.reason);
    assert.equal(actions(s), 'D');
  });
});

test('transient: the attach was lost before pgpool queued it: sent again', async () => {
  // Without a lease (maxAgeMs 0) the attach has a connection of its own, which dies during auth.
  const s = await startPcpServer({});
  try {
    const cluster = clusterFor([s], { passfile });
    const ops = opsOver(cluster, new NativeDriver(cluster, { keep: { idleMs: 100, maxAgeMs: 0, settleMs: 2_000 } }));
    const b = s.backends[1];
    assert.ok(b);
    b.status = 3;
    let dropped = false;
    s.setFault((r) => {
      if (r.type === 'R' && s.requests.filter((q) => q.type === 'I').length === 1 && !dropped) {
        dropped = true;
        return { kind: 'close' };
      }
      return undefined;
    });
    const o = await ops.ensureAttached('127.0.0.1:15433');
    assert.equal(o.result, 'changed', o.reason);
    assert.equal(actions(s), 'C');
    assert.ok(dropped);
    await s.waitIdle();
  } finally {
    await s.stop();
  }
});

test("transient: the read's connection closes after its answer (a PCP restart): the attach goes out once, on a fresh one", async () => {
  await withOps({}, async (s, ops) => {
    const b = s.backends[1];
    assert.ok(b);
    b.status = 3;
    // The whole node info answer, then the server closes: the lease's connection is gone before C.
    s.faultOnce('I', { kind: 'truncate', bytes: 1_000_000 });
    const o = await ops.ensureAttached('127.0.0.1:15433');
    assert.equal(o.result, 'changed', o.reason);
    assert.equal(actions(s), 'C');
    assert.equal(s.stats.opened, 2);
  });
});

test('one login per action: the read, the action and its confirmation share a connection', async () => {
  await withOps({}, async (s, ops) => {
    const o = await ops.ensureDetached('127.0.0.1:15434');
    assert.equal(o.result, 'changed', o.reason);
    await s.waitIdle();
    assert.equal(s.stats.opened, 1);
    // No node count before the detach: the node info just read on this connection gave it.
    assert.match(s.requests.map((r) => r.type).join(''), /^MRID(I)+X$/);
  });
});

test('transient failures past the deadline: failed, retryable', async () => {
  await withOps({ fault: (r) => (r.type === 'I' ? { kind: 'close' } : undefined) }, async (_s, ops) => {
    const o = await ops.ensureDetached('127.0.0.1:15434', { verifyMs: 100 });
    assert.equal(o.result, 'failed');
    assert.equal(o.retryable, true);
    assert.match(o.reason ?? '', /closed the connection/);
  });
});

test('accepted but never visible: failed, retryable, after verifyMs', async () => {
  await withOps({ effectDelayMs: 60_000 }, async (_s, ops) => {
    const o = await ops.ensureDetached('127.0.0.1:15434', { verifyMs: 150 });
    assert.equal(o.result, 'failed');
    assert.equal(o.retryable, true);
    assert.match(o.reason ?? '', /still up/);
    assert.ok(o.durationMs >= 150);
  });
});

test('unknown address: failed, not retryable, nothing sent', async () => {
  await withOps({}, async (s, ops) => {
    const o = await ops.ensureDetached('10.9.9.9');
    assert.equal(o.result, 'failed');
    assert.equal(o.retryable, false);
    assert.match(o.reason ?? '', /no pgpool backend has address 10\.9\.9\.9/);
    assert.equal(actions(s), '');
    const bad = await ops.ensureAttached('not an address');
    assert.equal(bad.retryable, false);
  });
});

test('pgpool unreachable / wrong password: failed with a reason, never thrown', async () => {
  const s = await startPcpServer({ users: { pcpadmin: 'other' } });
  try {
    const cluster = clusterFor([s], { passfile });
    const ops = opsOver(cluster, new NativeDriver(cluster));
    const auth = await ops.ensureAttached('127.0.0.1:15432');
    assert.equal(auth.result, 'failed');
    assert.match(auth.reason ?? '', /refused user "pcpadmin"/);
    assert.equal(auth.retryable, false);
  } finally {
    await s.stop();
  }
  const cluster = clusterFor([s], { passfile });
  const down = await opsOver(cluster, new NativeDriver(cluster)).ensureDetached('127.0.0.1:15432');
  assert.equal(down.result, 'failed');
  assert.equal(down.retryable, true);
  assert.match(down.reason ?? '', /ECONNREFUSED/);
});

test('abort during verification: failed, retryable, promptly', async () => {
  await withOps({ effectDelayMs: 60_000 }, async (s, ops) => {
    const ac = new AbortController();
    const p = ops.ensureDetached('127.0.0.1:15434', { signal: ac.signal, verifyMs: 60_000 });
    const deadline = Date.now() + 2_000;
    while (!s.requests.some((r) => r.type === 'D')) {
      assert.ok(Date.now() < deadline);
      await new Promise((r) => setImmediate(r));
    }
    ac.abort();
    const o = await p;
    assert.equal(o.result, 'failed');
    assert.match(o.reason ?? '', /cancelled/);
  });
});

test('nodes(): the stable PcpNode view, empty strings dropped', async () => {
  await withOps({}, async (_s, ops) => {
    const r = await ops.nodes();
    assert.deepEqual(Object.keys(r.nodes[0] ?? {}).sort(), ['backendRole', 'backendStatus', 'host', 'id', 'lastStatusChange', 'port', 'replicationDelay', 'replicationDelayUnit', 'role', 'status', 'weight']);
    assert.equal(r.nodes[1]?.replicationState, 'streaming');
  });
});

// --- address → node id ---------------------------------------------------------------------

function node(id: number, host: string, port: number): NodeInfo {
  const r = decodeNodeInfo(id, layoutFields('F').map((f) => ({ host, port: String(port), status: '2', quarantine: '0', pg_status: 'up', weight: '0', role: '3', pg_role: 'standby', delay: '0', repl_state: '', repl_sync_state: '', status_changed: '0' })[f] ?? ''));
  assert.ok(r.ok);
  return r.node;
}
const cluster = (backends: ClusterConfig['backends']): ClusterConfig => clusterFor([{ host: '127.0.0.1', port: 1 }], { passfile: '/x', backends });
const nodes = [node(0, 'db1', 5432), node(1, 'db2', 5432), node(2, 'db2', 5433), node(3, '', 0)];

test('resolve: host:port matches exactly; a lone host matches when only one node has it', () => {
  const c = cluster([{ address: 'db1', port: 5432 }]);
  assert.equal(resolveNodeId(c, 'db2:5433', nodes), 2);
  assert.equal(resolveNodeId(c, 'db1', nodes), 0);
  assert.equal(resolveNodeId(c, 'DB1:5432', nodes), 0);
  assert.throws(() => resolveNodeId(c, 'db2', nodes), PcpAmbiguousAddressError);
  assert.throws(() => resolveNodeId(c, 'db1:5433', nodes), PcpUnknownAddressError);
  assert.throws(() => resolveNodeId(c, 'db1;rm -rf', nodes), PcpInvalidRequestError);
});

test('resolve: a pinned nodeId wins; a config port narrows a bare host', () => {
  const c = cluster([{ address: '10.0.0.7', port: 5432, nodeId: 1 }, { address: 'db2', port: 5433 }]);
  assert.equal(resolveNodeId(c, '10.0.0.7', nodes), 1);
  assert.equal(resolveNodeId(c, '10.0.0.7:5432', nodes), 1);
  assert.equal(resolveNodeId(c, 'db2', nodes), 2);
  const pinnedMissing = cluster([{ address: 'x', port: 1, nodeId: 9 }]);
  assert.throws(() => resolveNodeId(pinnedMissing, 'x', nodes), PcpUnknownAddressError);
});
