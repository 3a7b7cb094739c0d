import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { BinariesDriver } from '../../pcp/binaries.ts';
import { parseStderrReport, parseVerboseNodeInfo } from '../../pcp/binaries-output.ts';
import { NativeDriver } from '../../pcp/native.ts';
import { opsOver } from '../../pcp/index.ts';
import { PcpAuthError, PcpBinaryError, PcpConnectError, PcpInvalidRequestError, PcpPasswordNotFoundError, PcpServerError } from '../../pcp/errors/index.ts';
import { startPcpServer, type PcpTestServer } from '../../testkit/pcp-server.ts';
import { clusterFor, passfileFor, tempDir } from './helpers.ts';

const dir = tempDir();
const passfile = passfileFor(dir);
after(() => dir.remove());

async function withDriver(fn: (s: PcpTestServer, d: BinariesDriver) => Promise<void>, users?: Record<string, string>): Promise<void> {
  const s = await startPcpServer({ backends: 3, ...(users ? { users } : {}) });
  try {
    await fn(s, new BinariesDriver(clusterFor([s], { passfile, driver: 'binaries' })));
    await s.waitIdle();
  } finally {
    await s.stop();
  }
}

test('stderr reports: libpcp rendering of E frames', () => {
  assert.deepEqual(parseStderrReport('FATAL:  invalid promote request\nDETAIL:  specified node is already primary node, can\'t promote node id 0\n\n'), {
    severity: 'FATAL',
    message: 'invalid promote request',
    detail: "specified node is already primary node, can't promote node id 0",
  });
  assert.equal(parseStderrReport('pcp_node_info: Invalid node-id "200", must be between 0 and 128\n'), null);
});

test('verbose node info parses into the same records as the native client', async () => {
  await withDriver(async (s, d) => {
    const viaBin = (await d.nodes()).value.nodes;
    const viaNative = (await new NativeDriver(clusterFor([s], { passfile })).nodes()).value.nodes;
    const strip = (n: (typeof viaBin)[number]) => ({ ...n, layout: undefined, lastStatusChange: undefined, weight: Math.round(n.weight * 1e6), quarantine: undefined, rawRole: n.rawRole });
    assert.deepEqual(viaBin.map(strip), viaNative.map(strip));
    // the binaries print local time to the second; both must name the same instant
    assert.equal(viaBin[0]?.lastStatusChange, viaNative[0]?.lastStatusChange);
    const one = (await d.nodeInfo(1)).value;
    assert.equal(one.port, 15433);
  });
  assert.equal(typeof parseVerboseNodeInfo('Hostname : x\nPort : nope\n', 0), 'string');
});

test('rc 0 with an ERROR on stderr is a failure (detach of a down node)', async () => {
  await withDriver(async (s, d) => {
    await d.detach(1);
    const deadline = Date.now() + 2_000;
    while (s.backends[1]?.status !== 3) {
      assert.ok(Date.now() < deadline);
      await new Promise((r) => setTimeout(r, 5));
    }
    await assert.rejects(d.detach(1), (e: unknown) => e instanceof PcpServerError && /status: \[3\]/.test(e.message));
    await assert.rejects(d.promote(0), (e: unknown) => e instanceof PcpServerError && e.fatal);
  });
});

test('wrong password (rc 1), refused connection, bad node id, missing binary', async () => {
  await withDriver(async (_s, d) => {
    await assert.rejects(d.nodes(), PcpAuthError);
  }, { pcpadmin: 'another' });
  const gone = await startPcpServer();
  await gone.stop();
  const d = new BinariesDriver(clusterFor([gone], { passfile, driver: 'binaries' }));
  await assert.rejects(d.nodeCount(), (e: unknown) => e instanceof PcpConnectError && /Connection refused/.test(e.message));
  await withDriver(async (s, drv) => {
    await assert.rejects(drv.attach(7), PcpInvalidRequestError);
    assert.ok(!s.requests.some((r) => r.type === 'C'));
    const missing = new BinariesDriver({ ...clusterFor([s], { passfile, driver: 'binaries' }), pcp: { ...clusterFor([s], { passfile }).pcp, binDir: '/nonexistent' } });
    await assert.rejects(missing.nodeCount(), PcpBinaryError);
  });
});

test('a 0644 passfile: the binaries would only say "authentication failed"; we say why', async () => {
  const loose = dir.file('loose', '*:*:pcpadmin:secret\n', 0o644);
  await withDriver(async (s) => {
    const d = new BinariesDriver(clusterFor([s], { passfile: loose, driver: 'binaries' }));
    await assert.rejects(d.nodeCount(), (e: unknown) => e instanceof PcpPasswordNotFoundError && /chmod 600/.test(e.message));
  });
});

test('ensure ops over the binaries driver behave like the native ones', async () => {
  await withDriver(async (s, d) => {
    const ops = opsOver(clusterFor([s], { passfile, driver: 'binaries' }), d);
    assert.equal((await ops.ensureDetached('127.0.0.1:15434')).result, 'changed');
    assert.equal((await ops.ensureDetached('127.0.0.1:15434')).result, 'already');
    assert.equal((await ops.ensureAttached('127.0.0.1:15434')).result, 'changed');
    assert.equal((await ops.ensurePrimary('127.0.0.1:15432')).result, 'already');
    const p = await ops.ensurePrimary('127.0.0.1:15433');
    assert.equal(p.result, 'changed', p.reason);
  });
});
