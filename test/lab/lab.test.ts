import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { labProcesses, labUp, openLab } from '../../lab/index.ts';
import { isInRecovery, promoteNode, rebuildAsStandby, repointStandby, stopNode, timelineOf, waitReplayed } from '../../lab/nodes.ts';
import { sql } from '../../lab/postgres.ts';
import { isAlive } from '../../lab/process.ts';
import { readState } from '../../lab/state.ts';
import { pollUntil } from '../../lab/wait.ts';
import { loadConfig } from '../../runtime/config.ts';
import { labId, startLab, testLabDir, type TestLab } from '../../testkit/lab.ts';

const run = promisify(execFile);
const LAB_ID = labId(1); // see testkit/lab.ts for the ids in use

async function pcpNodeInfo(lab: TestLab): Promise<string[][]> {
  const { stdout, stderr } = await run(
    '/usr/sbin/pcp_node_info',
    ['-h', lab.pcp.host, '-p', String(lab.pcp.port), '-U', lab.pcp.user, '-w', '-a'],
    { env: { ...process.env, PCPPASSFILE: lab.pcp.passfile }, timeout: 10_000 },
  );
  // pcp_* exit 0 on server-side errors: an error shows only on stderr.
  assert.equal(stderr, '');
  return stdout.trim().split('\n').map((l) => l.split(' '));
}

async function poolNodes(lab: TestLab): Promise<string[][]> {
  const { stdout } = await run(
    'psql',
    ['-h', lab.pgpool.host, '-p', String(lab.pgpool.port), '-U', 'postgres', '-d', 'postgres', '-XAt', '-F', '|', '-c', 'SHOW pool_nodes'],
    { timeout: 10_000 },
  );
  return stdout.trim().split('\n').map((l) => l.split('|'));
}

describe('lab', { timeout: 240_000 }, () => {
  let lab: TestLab;

  before(async () => {
    lab = await startLab({ id: LAB_ID });
  });
  after(async () => {
    await lab?.stop();
  });

  it('is on its own loopback addresses and writes a valid pcpflow config', () => {
    assert.equal(lab.pgpool.host, `127.0.${LAB_ID}.10`);
    assert.deepEqual(
      lab.nodes.map((n) => `${n.address}:${n.port}`),
      [`127.0.${LAB_ID}.11:5432`, `127.0.${LAB_ID}.12:5432`, `127.0.${LAB_ID}.13:5432`],
    );
    assert.equal(statSync(lab.pcp.passfile).mode & 0o777, 0o600);
    const { config } = loadConfig(lab.configPath, {});
    const cluster = config.clusters[0];
    assert.equal(cluster?.name, 'lab');
    assert.equal(cluster?.pcp.user, 'pcpadmin');
    assert.equal(cluster?.pcp.passfile, lab.pcp.passfile);
    assert.deepEqual(cluster?.pcp.endpoints.map((e) => `${e.host}:${e.port}`), [`127.0.${LAB_ID}.10:9898`]);
    assert.equal(config.redis.url, lab.redisUrl);
    assert.ok(config.outbox.dir.startsWith(lab.dir));
  });

  it('answers PCP node info: 3 nodes, one primary, two streaming standbys, all attached', async () => {
    const rows = await pcpNodeInfo(lab);
    assert.equal(rows.length, 3);
    rows.forEach((f, i) => {
      assert.equal(f[0], lab.nodes[i]?.address);
      assert.equal(f[1], '5432');
      assert.ok(['1', '2'].includes(f[2] ?? ''), `node ${i} status ${f[2]}`);
      assert.ok(['up', 'waiting'].includes(f[4] ?? ''), `node ${i} status name ${f[4]}`);
    });
    assert.deepEqual(rows.map((f) => f[6]), ['primary', 'standby', 'standby']);
    assert.deepEqual(rows.slice(1).map((f) => f[9]), ['streaming', 'streaming']);
  });

  it('shows the same node table through SHOW pool_nodes', async () => {
    const rows = await poolNodes(lab);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((r) => r[1]), lab.nodes.map((n) => n.address));
    assert.deepEqual(rows.map((r) => r[3]), ['up', 'up', 'up']);
    assert.deepEqual(rows.map((r) => r[6]), ['primary', 'standby', 'standby']);
  });

  it('up on a running lab reports it is up and changes nothing', async () => {
    const before = readState(`${lab.dir}/lab.json`).processes;
    const again = await labUp({ id: LAB_ID, dir: lab.dir });
    assert.equal(again.created, false);
    assert.deepEqual(readState(`${lab.dir}/lab.json`).processes, before);
  });

  it('up after a crash of part of the lab cleans it and builds it again', async () => {
    const state = readState(`${lab.dir}/lab.json`);
    const pgpool = state.processes.pgpool?.pid;
    assert.ok(pgpool);
    const family = labProcesses(state);
    process.kill(pgpool, 'SIGKILL');
    await pollUntil('pgpool to die', async () => (isAlive(pgpool) ? undefined : true), { timeoutMs: 10_000 });
    const lines: string[] = [];
    const again = await labUp({ id: LAB_ID, dir: lab.dir }, (l) => lines.push(l));
    assert.equal(again.created, true);
    assert.ok(lines.some((l) => l.includes('half up')), lines.join('\n'));
    for (const p of family) assert.equal(isAlive(p.pid), false, `pid ${p.pid} of the crashed lab survived`);
    assert.notEqual(readState(`${lab.dir}/lab.json`).processes.pgpool?.pid, pgpool);
    assert.equal((await pcpNodeInfo(lab)).length, 3);
  });

  it('drives PostgreSQL for drills: crash, promote, re-point, rebuild with pg_rewind', async () => {
    const ref = openLab(lab.dir);
    await sql(lab.nodes[0]!, 'create table drill(x int); insert into drill values (1)');
    await waitReplayed(ref, 'pg1', 'pg0');
    await stopNode(ref, 'pg0', { immediate: true });
    await promoteNode(ref, 'pg1');
    assert.equal(await isInRecovery(ref, 'pg1'), false);
    assert.equal(await timelineOf(ref, 'pg1'), 2);
    await repointStandby(ref, 'pg2', 'pg1');
    assert.equal(await rebuildAsStandby(ref, 'pg0', 'pg1'), 'rewind');
    assert.equal(await isInRecovery(ref, 'pg0'), true);
    assert.equal(await sql(lab.nodes[0]!, 'select count(*) from drill'), '1');
  });

  it('down stops every process of the lab and removes its dir', async () => {
    const family = labProcesses(readState(`${lab.dir}/lab.json`));
    assert.ok(family.length >= 5, `expected the lab's processes, got ${family.length}`);
    await lab.stop();
    for (const p of family) assert.equal(isAlive(p.pid), false, `pid ${p.pid} still alive`);
    assert.equal(existsSync(testLabDir(LAB_ID)), false);
  });
});
