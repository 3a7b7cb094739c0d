import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ClusterConfig } from '../../contracts/config.ts';
import { BinariesDriver, NativeDriver, PcpClosedError } from '../../pcp/index.ts';
import { startPgpoolAgain, stopPgpool } from '../../lab/pgpools.ts';
import { labId, startLab, type TestLab } from '../../testkit/lab.ts';

/**
 * Kept PCP connections against a real pgpool 4.3.5 (lab id 37). pgpool 4.0–4.4 cannot finish a
 * failover while any PCP connection is open (its PCP child waits for every worker before it
 * restarts, and main waits for the child): readers that never pause must still let a failover
 * started by someone else (the pcp_* binaries) run to its end, and a kept connection that pgpool's
 * restart broke must be replaced without the caller seeing an error.
 */

let lab: TestLab;
let cluster: ClusterConfig;

before(async () => {
  lab = await startLab({ id: labId(37) });
  const c = lab.config.clusters[0];
  assert.ok(c);
  cluster = c;
});

after(async () => {
  await lab?.stop();
});

/** A fresh connection per look: the observer itself keeps nothing open. */
const observer = (): NativeDriver => new NativeDriver(cluster, { keep: false });

async function until(what: string, pred: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) assert.fail(`not seen within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Reader {
  calls: number;
  errors: unknown[];
  stop(): Promise<void>;
}

/** Calls `read` back to back (no pause) until stopped: the busiest a worker's reads can be. */
function startReader(read: () => Promise<unknown>): Reader {
  let running = true;
  const r: Reader = {
    calls: 0,
    errors: [],
    stop: async () => {
      running = false;
      await loop;
    },
  };
  const loop = (async () => {
    while (running) {
      try {
        await read();
        r.calls++;
      } catch (err) {
        r.errors.push(err);
      }
      await new Promise((res) => setImmediate(res));
    }
  })();
  return r;
}

test('readers that never pause on kept connections do not hold up a detach and an attach sent by the pcp_* binaries', async () => {
  const standby = lab.nodes.length - 1;
  // One reader sees every node (a change in pgpool's table makes it let go at once); the other
  // asks the node count, which shows no change, so only the age limit makes it let go.
  const nodesDriver = new NativeDriver(cluster);
  const countDriver = new NativeDriver(cluster);
  const readers = [startReader(() => nodesDriver.nodes()), startReader(() => countDriver.nodeCount())];
  const binaries = new BinariesDriver(cluster);
  try {
    await until('both readers reuse a kept connection', async () => nodesDriver.keptStats.reused > 0 && countDriver.keptStats.reused > 0);

    await binaries.detach(standby);
    await until(`node ${standby} down`, async () => (await observer().nodes()).value.nodes[standby]?.status === 'down');
    const atDetach = readers.map((r) => r.calls);

    // pgpool takes this attach only after the detach's failover() has restarted its PCP child,
    // which waits for every open PCP connection, the readers' kept ones included.
    await binaries.attach(standby);
    await until(`node ${standby} attached again`, async () => {
      const s = (await observer().nodes()).value.nodes[standby]?.status;
      return s === 'up' || s === 'waiting';
    });
    readers.forEach((r, i) => assert.ok(r.calls > (atDetach[i] ?? 0), `reader ${i} kept reading throughout`));
  } finally {
    await Promise.all(readers.map((r) => r.stop()));
    await Promise.all([nodesDriver.close(), countDriver.close()]);
  }
  // The only failure a reader may see: a fresh connection that pgpool's exiting PCP child accepted,
  // forked a worker for and killed at once (the worker gets SIGTERM before it installs its own
  // handler). pgpool does that to any client at its PCP restart; ensure() re-reads after it.
  for (const e of readers.flatMap((r) => r.errors)) assert.ok(e instanceof PcpClosedError, String(e));
  assert.ok(nodesDriver.keptStats.reused > 0 && countDriver.keptStats.reused > 0);
  // pgpool restarted its PCP child after each of the two node changes
  const log = readFileSync(lab.plan.paths.pgpoolLog, 'utf8');
  assert.ok((log.match(/fork a new PCP child pid \d+ in failover\(\)/g) ?? []).length >= 1, "PCP child restarted after the detach's failover");
});

test('a kept connection broken by a pgpool restart is replaced and the call answers', async () => {
  const driver = new NativeDriver(cluster, { keep: { idleMs: 600_000, maxAgeMs: 600_000, settleMs: 2_000 } });
  try {
    assert.equal((await driver.nodes()).value.nodes.length, lab.nodes.length);
    assert.equal((await driver.nodeCount()).value, lab.nodes.length);
    assert.deepEqual({ opened: driver.keptStats.opened, reused: driver.keptStats.reused }, { opened: 1, reused: 1 });

    await stopPgpool(lab, 'pgpool');
    await startPgpoolAgain(lab, 'pgpool', { keepStatus: true });

    const again = await driver.nodes();
    assert.equal(again.value.nodes.length, lab.nodes.length);
    assert.equal(driver.keptStats.opened, 2, 'a new connection replaced the broken one');
    assert.equal((await driver.nodeCount()).value, lab.nodes.length);
    assert.equal(driver.keptStats.opened, 2, 'and is kept in turn');
  } finally {
    await driver.close();
  }
});
