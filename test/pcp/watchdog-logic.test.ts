import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { EndpointHealth } from '../../pcp/endpoint-health.ts';
import { judge } from '../../pcp/confirm.ts';
import { readPgpools } from '../../pcp/pgpools.ts';
import type { NodesAnswer, PcpDriver } from '../../pcp/driver.ts';
import type { NodeInfo } from '../../pcp/node-info.ts';
import type { EachAnswer } from '../../pcp/views.ts';
import type { WatchdogInfo } from '../../pcp/commands.ts';
import { pgpoolDifferences } from '../../workers/pgpool-views.ts';
import { toPcpNode } from '../../pcp/index.ts';

/** The rules pcpflow applies across a watchdog cluster's pgpools, on fabricated answers (the real cluster is in watchdog.test.ts). */

function node(id: number, status: NodeInfo['status'], role: NodeInfo['role'] = 'standby'): NodeInfo {
  return { id, host: `127.0.0.${11 + id}`, port: 5432, status, statusCode: 2, role, rawRole: role === 'primary' ? 'primary' : 'standby', weight: 0.33 };
}
function answer(endpoint: string, host: string, nodes: NodeInfo[] | null): EachAnswer<NodesAnswer> {
  return nodes ? { endpoint, host, port: 9898, value: { nodes, layout: undefined } } : { endpoint, host, port: 9898, error: 'connect refused' };
}
const down = (n: NodeInfo) => n.status === 'down';

describe('confirmation across pgpools', () => {
  it('is confirmed only when every pgpool that answered shows the change; an unreachable one does not count', () => {
    const j = judge([answer('pgpool0', 'a', [node(2, 'down')]), answer('pgpool1', 'b', null), answer('pgpool2', 'c', [node(2, 'down')])], 2, down);
    assert.equal(j.confirmed, true);
    assert.deepEqual(j.ahead.map((v) => v.endpoint), ['pgpool0', 'pgpool2']);
  });
  it('names the pgpool still showing the old state', () => {
    const j = judge([answer('pgpool0', 'a', [node(2, 'down')]), answer('pgpool1', 'b', [node(2, 'up')])], 2, down);
    assert.equal(j.confirmed, false);
    assert.deepEqual(j.behind, [{ endpoint: 'pgpool1', seen: 'up/standby', reached: false }]);
  });
  it('is not confirmed when no pgpool answered', () => {
    assert.equal(judge([answer('pgpool0', 'a', null)], 2, down).confirmed, false);
  });
});

describe('endpoint health', () => {
  it('tries an endpoint that failed last until its cooldown passes or it answers', () => {
    let now = 1_000;
    const h = new EndpointHealth(10_000, () => now);
    const eps = ['a', 'b', 'c'].map((n) => ({ host: n, port: 9898, name: n }));
    assert.deepEqual(h.order(eps).map((e) => e.name), ['a', 'b', 'c']);
    h.failed(eps[0]!, 'frozen');
    now += 1;
    h.failed(eps[1]!, 'refused');
    assert.deepEqual(h.order(eps).map((e) => e.name), ['c', 'a', 'b']);
    h.answered(eps[1]!);
    assert.deepEqual(h.order(eps).map((e) => e.name), ['b', 'c', 'a']);
    now += 10_000;
    assert.deepEqual(h.order(eps).map((e) => e.name), ['a', 'b', 'c']);
  });
});

function wd(leaderHost: string, selfState: string): WatchdogInfo {
  return {
    RemoteNodeCount: 2,
    QuorumStatus: 1,
    AliveNodeCount: 2,
    Escalated: selfState === 'LEADER' ? 1 : 0,
    NodeCount: 3,
    LeaderHostName: leaderHost,
    WatchdogNodes: [{ NodeName: 'me', HostName: 'me', State: 4, StateName: selfState }],
    leaderNodeName: leaderHost,
    leaderHostName: leaderHost,
  };
}

function fakeDriver(nodes: EachAnswer<NodesAnswer>[], wds: EachAnswer<WatchdogInfo>[]): PcpDriver {
  const no = () => Promise.reject(new Error('not used'));
  return {
    kind: 'native',
    endpointCount: nodes.length,
    nodeCount: no,
    nodes: no,
    attach: no,
    detach: no,
    promote: no,
    watchdog: no,
    healthCheckStats: no,
    poolStatus: no,
    nodesEach: () => Promise.resolve(nodes),
    watchdogEach: () => Promise.resolve(wds),
  };
}

describe('whose table counts', () => {
  it("the leader most pgpools name, not a thawed old leader that still calls itself LEADER", async () => {
    const d = fakeDriver(
      [answer('pgpool0', 'a', [node(2, 'up')]), answer('pgpool1', 'b', [node(2, 'down')]), answer('pgpool2', 'c', [node(2, 'down')])],
      [
        { endpoint: 'pgpool0', host: 'a', port: 9898, value: wd('a', 'LEADER') },
        { endpoint: 'pgpool1', host: 'b', port: 9898, value: wd('b', 'LEADER') },
        { endpoint: 'pgpool2', host: 'c', port: 9898, value: wd('b', 'STANDBY') },
      ],
    );
    const v = await readPgpools(d, (a) => a.nodes.map(toPcpNode));
    assert.equal(v.authoritative?.endpoint, 'pgpool1');
    assert.deepEqual(pgpoolDifferences(v).map((x) => `${x.endpoint} ${x.seen} vs ${x.referenceEndpoint} ${x.reference}`), ['pgpool0 up/standby vs pgpool1 down/standby']);
  });
  it('nobody when they disagree and no leader answered; the one table when they agree', async () => {
    const split = fakeDriver([answer('pgpool1', 'b', [node(2, 'up')]), answer('pgpool2', 'c', [node(2, 'down')])], []);
    assert.equal((await readPgpools(split, (a) => a.nodes.map(toPcpNode))).authoritative, null);
    const same = fakeDriver([answer('pgpool1', 'b', [node(2, 'waiting')]), answer('pgpool2', 'c', [node(2, 'waiting')])], []);
    assert.equal((await readPgpools(same, (a) => a.nodes.map(toPcpNode))).authoritative?.endpoint, 'pgpool1');
  });
});
