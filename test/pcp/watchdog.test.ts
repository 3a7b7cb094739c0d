import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { ClusterConfig } from '../../contracts/config.ts';
import { isAttached } from '../../contracts/pgpool-node.ts';
import { createPcpOps, EndpointHealth, NativeDriver, opsOver } from '../../pcp/index.ts';
import { pollUntil } from '../../lab/wait.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { labStatus, pgpools, waitWatchdogSettled, watchdogViews } from '../../lab/index.ts';
import { readState } from '../../lab/state.ts';
import { labId, startWatchdogLab, type TestLab } from '../../testkit/lab.ts';

/**
 * Endpoint choice on a real three-pgpool watchdog cluster (pgpool-II 4.3.5): with the first
 * configured pgpool frozen (SIGSTOP: it accepts connections and never answers) or dead, actions
 * and reads go through the others and are confirmed by every pgpool that answers.
 */
const LAB_ID = labId(21);
let lab: TestLab;

before(async () => {
  lab = await startWatchdogLab(LAB_ID);
});
after(async () => {
  await lab?.stop();
});

const plan = () => readState(`${lab.dir}/lab.json`).plan;

/** The lab's cluster with a standby pgpool (not the watchdog leader) as the first endpoint: the one the test takes away. */
async function standbyFirst(): Promise<{ cluster: ClusterConfig; victim: { role: string; name: string } }> {
  const views = await watchdogViews(plan());
  const leader = views[0]?.info?.leaderHostName;
  const base = lab.config.clusters[0];
  assert.ok(base && leader);
  const standby = base.pcp.endpoints.find((e) => e.host !== leader);
  assert.ok(standby);
  const role = lab.pgpools.find((p) => p.host === standby.host)?.role;
  assert.ok(role);
  const cluster = { ...base, pcp: { ...base.pcp, endpoints: [standby, ...base.pcp.endpoints.filter((e) => e !== standby)] } };
  return { cluster, victim: { role, name: standby.label ?? standby.host } };
}

const standbyAddress = () => `${lab.nodes[2]?.address}:${lab.nodes[2]?.port}`;

const CLI = new URL('../../bin/pcpflow.js', import.meta.url).pathname;

describe('endpoint choice across a watchdog cluster', () => {
  it('lab status and `pcpflow pcp watchdog --json` show one leader and two standbys, seen alike by all three', async () => {
    const s = await labStatus(lab.dir);
    assert.equal(s.watchdog.length, 3);
    const own = s.watchdog.map((v) => v.info?.WatchdogNodes[0]?.StateName).sort();
    assert.deepEqual(own, ['LEADER', 'STANDBY', 'STANDBY']);
    assert.equal(new Set(s.watchdog.map((v) => v.info?.leaderHostName)).size, 1);
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'pcp', 'watchdog', '--json', '--config', lab.configPath]);
    const out = JSON.parse(stdout) as { leader: string | null; agree: boolean; pgpools: { endpoint: string; reachable: boolean; role: string | null }[] };
    assert.equal(out.agree, true);
    assert.ok(out.leader && lab.pgpools.some((p) => p.host === out.leader));
    assert.deepEqual(out.pgpools.map((p) => p.endpoint), ['pgpool0', 'pgpool1', 'pgpool2']);
    assert.deepEqual(out.pgpools.map((p) => p.role).sort(), ['LEADER', 'STANDBY', 'STANDBY']);
  });

  it('a frozen pgpool first in the list: the action goes through another and every pgpool that answers confirms it', async () => {
    const { cluster, victim } = await standbyFirst();
    const health = new EndpointHealth();
    const driver = new NativeDriver(cluster, { health });
    const ops = opsOver(cluster, driver);
    pgpools.freezePgpool(lab, victim.role);
    try {
      const o = await ops.ensureDetached(standbyAddress());
      assert.equal(o.result, 'changed', o.reason);
      assert.notEqual(o.endpoint, victim.name);
      assert.equal(o.confirmedBy?.length, 2, `confirmed by ${o.confirmedBy?.join(', ')}`);
      assert.ok(!o.confirmedBy?.includes(victim.name));
      const frozen = health.view(cluster.pcp.endpoints.map((e) => ({ host: e.host, port: e.port, name: e.label ?? '' })))[0];
      assert.equal(frozen?.reachable, false);
      const failedAt = frozen?.lastFailureAt;
      // Tried last now: the next read answers from another pgpool without asking the frozen one again.
      const read = await driver.nodes();
      assert.notEqual(read.endpoint, victim.name);
      assert.equal(health.view([{ host: cluster.pcp.endpoints[0]!.host, port: cluster.pcp.endpoints[0]!.port, name: victim.name }])[0]?.lastFailureAt, failedAt);
    } finally {
      pgpools.thawPgpool(lab, victim.role);
    }
    await waitWatchdogSettled(plan());
    const thawedDriver = new NativeDriver(cluster, { health: new EndpointHealth() });
    const back = await opsOver(cluster, thawedDriver).ensureAttached(standbyAddress());
    assert.notEqual(back.result, 'failed', back.reason);
    const id = back.nodeId;
    assert.ok(id !== undefined);
    // The thawed pgpool may miss the confirmation while it catches up (its whole PCP exchange has
    // one deadline, and a pgpool that just failed is skipped as a suspect); it must still come to
    // show the attach, so every pgpool ends in agreement. Each one is asked on its own.
    let views: string[] = [];
    const attachedOn = (a: { value?: { nodes: { id: number; status: string }[] } }) => {
      const n = a.value?.nodes.find((x) => x.id === id);
      return n !== undefined && isAttached(n.status);
    };
    await pollUntil(
      'every pgpool, the thawed one included, to show the standby attached',
      async () => {
        const answers = await thawedDriver.nodesEach({});
        views = answers.map((a) => `${a.endpoint}: ${a.value?.nodes.find((n) => n.id === id)?.status ?? a.error ?? '?'}`);
        return answers.length === 3 && answers.every(attachedOn) ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    ).catch((err: unknown) => assert.fail(`after the thaw not every pgpool shows the attach: ${views.join(', ')} (${String(err)})`));
  });

  it('a dead pgpool first in the list: the action goes through another; pgpools() shows it unreachable and the others with their watchdog roles', async () => {
    const { cluster, victim } = await standbyFirst();
    const driver = new NativeDriver(cluster, { health: new EndpointHealth() });
    const ops = opsOver(cluster, driver);
    await pgpools.killPgpool(lab, victim.role);
    try {
      const o = await ops.ensureDetached(standbyAddress());
      assert.equal(o.result, 'changed', o.reason);
      assert.notEqual(o.endpoint, victim.name);
      const view = await ops.pgpools();
      const dead = view.pgpools.find((p) => p.endpoint === victim.name);
      assert.equal(dead?.reachable, false);
      const roles = view.pgpools.filter((p) => p.reachable).map((p) => p.watchdogRole).sort();
      assert.deepEqual(roles, ['LEADER', 'STANDBY']);
      assert.ok(view.authoritative && view.authoritative.endpoint !== victim.name);
      for (const p of view.pgpools.filter((x) => x.reachable)) assert.equal(p.nodes?.find((n) => n.id === 2)?.status, 'down', `${p.endpoint} shows the detach`);
    } finally {
      await pgpools.startPgpoolAgain(lab, victim.role);
    }
    await waitWatchdogSettled(plan());
    const back = await opsOver(cluster, new NativeDriver(cluster, { health: new EndpointHealth() })).ensureAttached(standbyAddress());
    assert.notEqual(back.result, 'failed', back.reason);
  });

  it('with two of three pgpools stopped there is no quorum: the action is not sent, and says why', async () => {
    const base = lab.config.clusters[0];
    assert.ok(base);
    const leaderHost = (await watchdogViews(plan()))[0]?.info?.leaderHostName;
    const others = lab.pgpools.filter((p) => p.host !== leaderHost);
    for (const p of others) await pgpools.stopPgpool(lab, p.role);
    try {
      await pollUntil('the leader to see its quorum gone', async () => {
        const v = (await watchdogViews(plan())).find((x) => x.info);
        return v?.info && v.info.QuorumStatus < 0 ? true : undefined;
      }, { timeoutMs: 60_000, intervalMs: 200 });
      // pgpool restarts its PCP process when the watchdog state changes: verifyMs leaves room for that.
      const o = await createPcpOps(base).ensureDetached(standbyAddress(), { verifyMs: 5_000 });
      assert.equal(o.result, 'failed');
      assert.equal(o.retryable, true);
      assert.match(o.reason ?? '', /cannot carry out a failover request now/);
      const { nodes } = await createPcpOps(base).nodes();
      assert.notEqual(nodes.find((n) => n.id === 2)?.status, 'down', 'nothing was sent');
    } finally {
      for (const p of others) await pgpools.startPgpoolAgain(lab, p.role);
    }
    await waitWatchdogSettled(plan());
  });
});
