import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatAddress } from '../../contracts/address.ts';
import type { ClusterConfig } from '../../contracts/config.ts';
import { BinariesDriver, createDriver, createPcpOps, NativeDriver, PcpAuthError, PcpConnectError, type PcpOps } from '../../pcp/index.ts';
import { labId, startLab, type TestLab } from '../../testkit/lab.ts';
import { tempDir } from './helpers.ts';

/**
 * Against a real pgpool 4.3.5 (lab id 3): the protocol, the node operations and their
 * asynchronous effects, the CLI. Promote changes pgpool's view only; the test puts it back.
 */

let lab: TestLab;
let cluster: ClusterConfig;
let ops: PcpOps;
const dir = tempDir();
const addr = (i: number): string => {
  const n = lab.nodes[i];
  assert.ok(n);
  return formatAddress({ host: n.address, port: n.port });
};
const bin = fileURLToPath(new URL('../../bin/pcpflow.js', import.meta.url));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, 'pcp', ...args, '--config', lab.configPath, '--cluster', cluster.name], { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls pgpool until pred holds (or the deadline passes, which fails the test). */
async function until(what: string, pred: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) assert.fail(`not seen within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  lab = await startLab({ id: labId(3) });
  const c = lab.config.clusters[0];
  assert.ok(c);
  cluster = c;
  ops = createPcpOps(cluster);
});

after(async () => {
  await lab?.stop();
  dir.remove();
});

test('node count and node info of every node (layout F, pgpool 4.3)', async () => {
  const driver = createDriver(cluster);
  assert.equal((await driver.nodeCount()).value, lab.nodes.length);
  const a = await driver.nodes();
  assert.equal(a.value.layout, 'F');
  assert.equal(a.endpoint, cluster.pcp.endpoints[0]?.label ?? `${lab.pcp.host}:${lab.pcp.port}`);
  assert.deepEqual(
    a.value.nodes.map((n) => formatAddress({ host: n.host, port: n.port })),
    lab.nodes.map((_, i) => addr(i)),
  );
  assert.equal(a.value.nodes[0]?.role, 'primary');
  for (const n of a.value.nodes) assert.ok(n.status === 'up' || n.status === 'waiting', `${n.id} ${n.status}`);
});

test('the binaries driver reads the same nodes as the native client', async () => {
  const viaBin = (await new BinariesDriver(cluster).nodes()).value.nodes;
  const viaNative = (await new NativeDriver(cluster).nodes()).value.nodes;
  assert.deepEqual(viaBin.map((n) => [n.id, n.host, n.port, n.status, n.role]), viaNative.map((n) => [n.id, n.host, n.port, n.status, n.role]));
});

test('detach a standby → seen down; detach again → already; attach → seen up', async () => {
  const target = addr(2);
  const d = await ops.ensureDetached(target);
  assert.equal(d.result, 'changed', d.reason);
  assert.equal(d.nodeId, 2);
  assert.equal((await ops.nodes()).nodes[2]?.status, 'down');
  const again = await ops.ensureDetached(target);
  assert.equal(again.result, 'already', again.reason);
  const a = await ops.ensureAttached(target);
  assert.equal(a.result, 'changed', a.reason);
  const st = (await ops.nodes()).nodes[2]?.status;
  assert.ok(st === 'up' || st === 'waiting', st);
  assert.equal((await ops.ensureAttached(target)).result, 'already');
});

test('wrong password: PcpAuthError; ensure reports failed, not retryable', async () => {
  const wrong = dir.file('wrong', '*:*:*:not-the-password\n');
  const bad: ClusterConfig = { ...cluster, pcp: { ...cluster.pcp, passfile: wrong } };
  await assert.rejects(new NativeDriver(bad).nodes(), PcpAuthError);
  await assert.rejects(new BinariesDriver(bad).nodes(), PcpAuthError);
  const o = await createPcpOps(bad).ensureDetached(addr(1));
  assert.equal(o.result, 'failed');
  assert.equal(o.retryable, false);
  assert.match(o.reason ?? '', /refused user/);
});

test('CLI: nodes --json, check-primary exit codes, bad input', async () => {
  const nodes = await cli(['nodes', '--json']);
  assert.equal(nodes.code, 0, nodes.stderr);
  const arr = JSON.parse(nodes.stdout) as { id: number; address: string; port: number; status: string; role: string }[];
  assert.equal(arr.length, lab.nodes.length);
  assert.deepEqual(arr.map((n) => n.address), lab.nodes.map((_, i) => addr(i)));
  for (const n of arr) {
    assert.ok(['up', 'waiting', 'down', 'unused'].includes(n.status));
    assert.ok(['primary', 'standby'].includes(n.role));
  }
  assert.equal((await cli(['check-primary', addr(0)])).code, 0);
  assert.equal((await cli(['check-primary', addr(1)])).code, 1);
  // Not a configured backend: the one address rule refuses it before pgpool is asked (exit 2).
  const unknown = await cli(['check-primary', '127.0.0.99:5432']);
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /127\.0\.0\.99:5432 is not a backend of cluster \S+; configured backends: /);
  assert.equal((await cli(['check-primary', 'bad;host'])).code, 2);
  const table = await cli(['nodes']);
  assert.match(table.stdout, /primary/);
});

test('promote a standby → pgpool makes it primary and marks the others down; then restored', async () => {
  const p = await ops.ensurePrimary(addr(1));
  assert.equal(p.result, 'changed', p.reason);
  const after1 = (await ops.nodes()).nodes;
  assert.deepEqual(after1.map((n) => n.role), ['standby', 'primary', 'standby']);
  assert.equal(after1[0]?.status, 'down');
  assert.equal(after1[2]?.status, 'down');
  assert.equal((await ops.ensurePrimary(addr(1))).result, 'already');
  // Undo (pgpool's view only): attaching node 0 re-runs pgpool's primary search, which finds the
  // real primary again; then node 2 comes back.
  assert.equal((await ops.ensureAttached(addr(0))).result, 'changed');
  await until('node 0 primary again', async () => (await ops.nodes()).nodes[0]?.role === 'primary');
  assert.equal((await ops.ensureAttached(addr(2))).result, 'changed');
  await until('every node attached', async () => (await ops.nodes()).nodes.every((n) => n.status === 'up' || n.status === 'waiting'));
});

test('pgpool stopped: errors arrive within the deadline, ensure reports failed', async () => {
  // the lab's dir (passfile included) goes with it: keep a copy so only pgpool is missing
  const kept: ClusterConfig = { ...cluster, pcp: { ...cluster.pcp, passfile: dir.file('kept', readFileSync(lab.pcp.passfile)) } };
  const target = addr(0);
  await lab.stop();
  const t = cluster.timeouts;
  const t0 = performance.now();
  await assert.rejects(new NativeDriver(kept).nodes(), PcpConnectError);
  const o = await createPcpOps(kept).ensureAttached(target);
  assert.equal(o.result, 'failed');
  assert.equal(o.retryable, true);
  assert.match(o.reason ?? '', /ECONNREFUSED/);
  assert.ok(performance.now() - t0 < 2 * (t.connectMs + t.readMs), 'bounded by the configured deadlines');
});
