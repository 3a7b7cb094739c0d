import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { NativeDriver } from '../../pcp/index.ts';
import type { KeepPolicy } from '../../pcp/kept.ts';
import { startPcpServer, type PcpTestServer } from '../../testkit/pcp-server.ts';
import { clusterFor, passfileFor, tempDir } from './helpers.ts';

/** When the native driver keeps a PCP connection, and when it must not (pcp/kept.ts), against the PCP test server. */

const dir = tempDir();
const passfile = passfileFor(dir);
after(() => dir.remove());

async function withDriver(keep: KeepPolicy | false | undefined, fn: (s: PcpTestServer, d: NativeDriver) => Promise<void>): Promise<void> {
  const s = await startPcpServer({ backends: 3 });
  const d = new NativeDriver(clusterFor([s], { passfile }), keep === undefined ? {} : { keep });
  try {
    await fn(s, d);
    await d.close();
    // nothing outlives the driver's close
    await s.waitIdle();
  } finally {
    await s.stop();
  }
}

const LONG: KeepPolicy = { idleMs: 60_000, maxAgeMs: 60_000, settleMs: 60_000 };
const typesOf = (s: PcpTestServer, connection: number): string =>
  s.requests
    .filter((r) => r.connection === connection)
    .map((r) => r.type)
    .join('');

test('read-only calls back to back share one authenticated connection', async () => {
  await withDriver(LONG, async (s, d) => {
    assert.equal((await d.nodes()).value.nodes.length, 3);
    assert.equal((await d.nodeCount()).value, 3);
    assert.equal((await d.poolStatus()).value.length > 0, true);
    assert.equal(s.stats.opened, 1);
    assert.deepEqual({ opened: d.keptStats.opened, reused: d.keptStats.reused }, { opened: 1, reused: 2 });
    assert.equal(s.requests.filter((r) => r.type === 'M').length, 1, 'one login');
    await d.close();
    await s.waitIdle();
    assert.equal(s.stats.loggedOut, 1, 'close() logs out');
  });
});

test('with the default policy an idle kept connection logs out by itself', async () => {
  await withDriver(undefined, async (s, d) => {
    await d.nodes();
    await s.waitIdle();
    assert.equal(s.stats.loggedOut, 1);
    await d.nodes();
    assert.equal(s.stats.opened, 2, 'the next call logs in again');
  });
});

test('an action never runs on the kept connection, retires it, and reads in the settle window get a connection each', async () => {
  await withDriver(LONG, async (s, d) => {
    await d.nodes();
    await d.detach(2);
    await d.nodes();
    await d.nodes();
    // kept (I), the detach's own (L D), then two one-shot reads
    assert.equal(s.stats.opened, 4);
    assert.equal(typesOf(s, 1), 'MRIX');
    assert.match(typesOf(s, 2), /^MRLDX$/);
    assert.equal(d.keptStats.oneShot, 2);
  });
});

test("a change in pgpool's node table (someone else's failover) makes the reader let go of its kept connection", async () => {
  await withDriver(LONG, async (s, d) => {
    await d.nodes();
    await d.nodes();
    const b = s.backends[2];
    assert.ok(b);
    b.status = 3;
    assert.equal((await d.nodes()).value.nodes[2]?.status, 'down');
    await s.waitIdle();
    assert.equal(typesOf(s, 1), 'MRIIIX', 'the connection that saw the change logged out');
    await d.nodeCount();
    assert.equal(s.stats.opened, 2, 'the next read had a connection of its own');
    assert.equal(d.keptStats.oneShot, 1);
  });
});

test('a kept connection closed under the caller is replaced once and the read answers', async () => {
  await withDriver(LONG, async (s, d) => {
    await d.nodes();
    s.faultOnce('I', { kind: 'close' });
    assert.equal((await d.nodes()).value.nodes.length, 3);
    assert.equal(d.keptStats.reopenedAfterError, 1);
    assert.equal(s.stats.opened, 2);
  });
});

test('two reads at once: one on the kept connection, the other on its own', async () => {
  await withDriver(LONG, async (s, d) => {
    const [a, b] = await Promise.all([d.nodes(), d.nodes()]);
    assert.equal(a.value.nodes.length + b.value.nodes.length, 6);
    assert.equal(s.stats.opened, 2);
    assert.equal(d.keptStats.oneShot, 1);
  });
});

test('maxAgeMs bounds how long a busy connection is kept; keep: false is one connection per call', async () => {
  await withDriver({ idleMs: 60_000, maxAgeMs: 0, settleMs: 0 }, async (s, d) => {
    for (let i = 0; i < 3; i++) await d.nodes();
    assert.equal(s.stats.opened, 3);
  });
  await withDriver(false, async (s, d) => {
    for (let i = 0; i < 3; i++) await d.nodes();
    assert.equal(s.stats.opened, 3);
    assert.equal(d.keptStats.oneShot, 3);
  });
});
