import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { formatAddress } from '../contracts/address.ts';
import { callHook } from '../lab/drills/hook-call.ts';
import { startWorker } from '../lab/drills/fleet-processes.ts';
import * as nodes from '../lab/nodes.ts';
import { labDown, labUp, type LabHandle } from '../lab/index.ts';
import { pollUntil } from '../lab/wait.ts';
import { createPcpOps, type PcpNode, type PcpOps } from '../pcp/index.ts';
import { PostgresStreamSource } from '../replication/postgres-source.ts';
import { freePort } from '../testkit/redis.ts';
import { fmtMs, median } from './stats.ts';
import { isAttached } from '../contracts/pgpool-node.ts';

const run = promisify(execFile);

/**
 * End-to-end figures on the real lab (issue 7), each against a baseline measured in the same run:
 *  - read capacity back after a primary failover: post-promotion hook → every standby back in
 *    load balancing; vs the floor (the same PCP steps back to back, no sleep) and the old
 *    follow_master.sh path (promote, `sleep 10`, attach);
 *  - detach: hook spawn → node seen down; vs the old synchronous path (pcp_node_count, a
 *    pcp_node_info per node, pcp_detach_node, spawned as pgpool_backend.sh did), and both minus a
 *    bare `node -e ''` start.
 */
const LAB_ID = 10 + Number(process.env.PCPFLOW_TEST_LAB_OFFSET ?? '0');

function waitFor(what: string, probe: () => Promise<boolean>): Promise<true> {
  return pollUntil(what, async () => ((await probe()) ? true : undefined), { timeoutMs: 60_000, intervalMs: 5 });
}

const attached = (n: PcpNode | undefined): boolean => n !== undefined && isAttached(n.status);

async function view(pcp: PcpOps): Promise<Map<string, PcpNode>> {
  return new Map((await pcp.nodes()).nodes.map((n) => [n.host, n]));
}

function pcpArgs(lab: LabHandle): string[] {
  return ['-h', lab.pcp.host, '-p', String(lab.pcp.port), '-U', lab.pcp.user, '-w'];
}

async function pcpBin(lab: LabHandle, cmd: string, extra: string[]): Promise<string> {
  const { stdout } = await run(`/usr/sbin/${cmd}`, [...pcpArgs(lab), ...extra], { env: { ...process.env, PCPPASSFILE: lab.pcp.passfile } });
  return stdout;
}

/** pgpool_backend.sh's way: count, node info per node compared by host, then detach by id. */
async function oldDetach(lab: LabHandle, host: string): Promise<void> {
  const count = Number((await pcpBin(lab, 'pcp_node_count', [])).trim());
  let id = -1;
  for (let i = 0; i < count; i++) {
    const line = await pcpBin(lab, 'pcp_node_info', ['-n', String(i)]);
    if (line.split(' ')[0] === host) id = i;
  }
  await pcpBin(lab, 'pcp_detach_node', ['-n', String(id)]);
}

async function nodeStart(): Promise<number> {
  const t0 = performance.now();
  await run(process.execPath, ['-e', '']);
  return performance.now() - t0;
}

/** Fails the primary over to `to` in PostgreSQL and detaches the dead one in pgpool (the fence). */
async function failPrimary(lab: LabHandle, pcp: PcpOps, from: string, to: string): Promise<void> {
  await nodes.stopNode(lab, from, { immediate: true });
  const addr = lab.nodes.find((n) => n.name === from);
  if (!addr) throw new Error(`no node ${from}`);
  const o = await pcp.ensureDetached(formatAddress({ host: addr.address, port: addr.port }));
  if (o.result === 'failed') throw new Error(`fence failed: ${o.reason}`);
  await searchOver(pcp);
  await nodes.promoteNode(lab, to);
}

/**
 * After the fence, pgpool searches for a new primary for search_primary_node_timeout and then has
 * none. Every method is timed from that same state (EFM's fence-before-promotion order), so each
 * one has to make pgpool switch its primary for real.
 */
async function searchOver(pcp: PcpOps): Promise<void> {
  await waitFor('pgpool to end its primary search with no primary', async () => [...(await view(pcp)).values()].every((n) => n.role === 'standby'));
}

/**
 * The moment a standby is first seen streaming from the primary and caught up, by the same
 * PostgreSQL look the worker uses, polled as fast as it answers (a few ms).
 */
async function watchStreaming(standby: string, primary: string): Promise<number> {
  const source = new PostgresStreamSource({ user: 'postgres', database: 'postgres', connectTimeoutMs: 2_000, ssl: 'disable' }, undefined);
  const watch = source.watch(standby, primary);
  const signal = AbortSignal.timeout(60_000);
  try {
    for (;;) {
      const started = performance.now();
      const p = await watch.look(signal).catch(() => ({ streaming: false }));
      if (p.streaming) return started;
      if (signal.aborted) throw new Error(`${standby} never streamed from ${primary}`);
    }
  } finally {
    await watch.close?.();
  }
}

export async function benchFailover(): Promise<void> {
  const lab = await labUp({ id: LAB_ID, dir: join(process.env.TMPDIR ?? '/tmp', `pcpflow-bench-lab-${LAB_ID}`) });
  const cluster = lab.config.clusters[0];
  if (!cluster) throw new Error('no cluster');
  const pcp = createPcpOps(cluster);
  const host = (name: string) => lab.nodes.find((n) => n.name === name)?.address ?? name;
  const worker = await startWorker({ configPath: lab.configPath, httpPort: await freePort(), logFile: join(lab.dir, 'log', 'bench-worker.log') });
  try {
    console.log(`\n== end to end on the real lab (pgpool 4.3, PostgreSQL 15, ${lab.nodes.length} nodes)`);
    // Detach: interleaved rounds, pcpflow via the hook then the old path, each restored between.
    const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
    const standby = 'pg2';
    const standbyHost = host(standby);
    const ours: number[] = [];
    const old: number[] = [];
    const bare: number[] = [];
    for (let i = 0; i < rounds; i++) {
      bare.push(await nodeStart());
      let t0 = performance.now();
      const hook = callHook(lab.configPath, 'lab', ['efm', 'detach', standbyHost, 's']);
      await waitFor('pcpflow detach visible', async () => (await view(pcp)).get(standbyHost)?.status === 'down');
      ours.push(performance.now() - t0);
      await hook;
      await callHook(lab.configPath, 'lab', ['efm', 'attach', standbyHost, 's']);
      await waitFor('re-attached', async () => attached((await view(pcp)).get(standbyHost)));
      await new Promise((r) => setTimeout(r, 1500)); // pgpool's post-failback pause, outside the timing
      t0 = performance.now();
      await oldDetach(lab, standbyHost);
      await waitFor('old-path detach visible', async () => (await view(pcp)).get(standbyHost)?.status === 'down');
      old.push(performance.now() - t0);
      const o = await pcp.ensureAttached(formatAddress({ host: standbyHost, port: 5432 }));
      if (o.result === 'failed') throw new Error(o.reason);
      await new Promise((r) => setTimeout(r, 1500));
    }
    const [m, mo, mb] = [median(ours), median(old), median(bare)];
    console.log(`detach, hook spawn → node down in pgpool: pcpflow ${fmtMs(m)}, old synchronous pcp_* path ${fmtMs(mo)}, ratio ${(m / mo).toFixed(2)}×`);
    console.log(`  minus a bare \`node -e ''\` start (${fmtMs(mb)}): pcpflow ${fmtMs(m - mb)} vs old path ${fmtMs(mo)}: ratio ${((m - mb) / mo).toFixed(2)}× (goal ≤ 1.0×)`);

    // Read capacity back after a failover, three ways, each on a real PostgreSQL promotion.
    // 1) pcpflow: fence + pg_ctl promote, then the post-promotion hook with workers running.
    await callHook(lab.configPath, 'lab', ['efm', 'detach', host('pg0'), 'p']);
    await nodes.stopNode(lab, 'pg0', { immediate: true });
    const fence = await callHook(lab.configPath, 'lab', ['efm', 'fence', host('pg1'), host('pg0')], { node: host('pg1') });
    if (fence.code !== 0) throw new Error(`fence hook exited ${fence.code}: ${fence.stderr}`);
    await searchOver(pcp);
    await nodes.promoteNode(lab, 'pg1');
    let t0 = performance.now();
    await callHook(lab.configPath, 'lab', ['efm', 'post-promotion', host('pg1'), host('pg0')], { node: host('pg1') });
    await waitFor('pcpflow: pg1 primary', async () => {
      const v = await view(pcp);
      return v.get(host('pg1'))?.role === 'primary' && attached(v.get(host('pg1')));
    });
    const toPrimary = performance.now() - t0;
    // pg2 still follows the dead pg0: pcpflow keeps it out. EFM re-points it a moment later; from
    // the first look that sees it streaming from pg1 (and caught up), to pgpool showing it attached.
    await new Promise((r) => setTimeout(r, 1_000));
    const sawStreaming = watchStreaming(`${host('pg2')}:5432`, `${host('pg1')}:5432`);
    const sawAttached = waitFor('pg2 attached', async () => attached((await view(pcp)).get(host('pg2')))).then(() => performance.now());
    await nodes.repointStandby(lab, 'pg2', 'pg1');
    const [tStreaming, tAttached] = await Promise.all([sawStreaming, sawAttached]);
    const streamingToAttached = tAttached - tStreaming;
    const viaPcpflow = toPrimary + streamingToAttached;
    // Bring pg0 back (rebuilt) through pcpflow so its machines stay in step.
    await nodes.rebuildAsStandby(lab, 'pg0', 'pg1');
    await callHook(lab.configPath, 'lab', ['efm', 'attach', host('pg0'), 's'], { node: host('pg0') });
    await waitFor('pg0 back', async () => attached((await view(pcp)).get(host('pg0'))));
    await worker.stop();

    // Baseline for streaming → attached: one PCP attach of a down standby, pgpool settled.
    await new Promise((r) => setTimeout(r, 1500));
    const down = await pcp.ensureDetached(formatAddress({ host: host('pg2'), port: 5432 }));
    if (down.result === 'failed') throw new Error(`baseline detach failed: ${down.reason}`);
    await new Promise((r) => setTimeout(r, 1500));
    const bareAttach = await pcp.ensureAttached(formatAddress({ host: host('pg2'), port: 5432 }));
    if (bareAttach.result === 'failed') throw new Error(`baseline attach failed: ${bareAttach.reason}`);

    // 2) the floor: the same PCP steps issued back to back by a script, no sleep.
    await new Promise((r) => setTimeout(r, 1500));
    await failPrimary(lab, pcp, 'pg1', 'pg0');
    t0 = performance.now();
    const p = await pcp.ensurePrimary(formatAddress({ host: host('pg0'), port: 5432 }));
    const a = await pcp.ensureAttached(formatAddress({ host: host('pg2'), port: 5432 }));
    if (p.result === 'failed' || a.result === 'failed') throw new Error(`floor steps failed: ${p.reason ?? a.reason}`);
    await waitFor('floor: pg0 primary, pg2 back', async () => {
      const v = await view(pcp);
      return v.get(host('pg0'))?.role === 'primary' && attached(v.get(host('pg2')));
    });
    const floor = performance.now() - t0;
    await nodes.repointStandby(lab, 'pg2', 'pg0');
    await nodes.rebuildAsStandby(lab, 'pg1', 'pg0');
    await pcp.ensureAttached(formatAddress({ host: host('pg1'), port: 5432 }));
    await new Promise((r) => setTimeout(r, 1500));

    // 3) the old path: pcp_promote_node, then follow_master.sh's `sleep 10` and pcp_attach_node.
    await failPrimary(lab, pcp, 'pg0', 'pg1');
    t0 = performance.now();
    await pcpBin(lab, 'pcp_promote_node', ['-n', '1']);
    await new Promise((r) => setTimeout(r, 10_000)); // what follow_master.sh does, reproduced
    await pcpBin(lab, 'pcp_attach_node', ['-n', '2']);
    await waitFor('old path: pg1 primary, pg2 back', async () => {
      const v = await view(pcp);
      return v.get(host('pg1'))?.role === 'primary' && attached(v.get(host('pg2')));
    });
    const oldPath = performance.now() - t0;
    console.log(
      `standby streaming → attached (the standby re-pointed 1 s after the promotion): ${fmtMs(streamingToAttached)} (goal ≤ 250 ms); ` +
        `a bare PCP attach of a down standby (pgpool settled) in the same run ${fmtMs(bareAttach.durationMs)}: pcpflow's own share ${fmtMs(streamingToAttached - bareAttach.durationMs)}`,
    );
    console.log(`read capacity back after a primary failover (post-promotion → pgpool primary, plus standby streaming → attached):`);
    console.log(`  pcpflow ${fmtMs(toPrimary)} + ${fmtMs(streamingToAttached)} = ${fmtMs(viaPcpflow)}; floor (same PCP steps back to back, standby already following) ${fmtMs(floor)}; old follow_master.sh path ${fmtMs(oldPath)}`);
    console.log(`  pcpflow/floor ${(viaPcpflow / floor).toFixed(2)}× (goal ≤ 1.2×); old/pcpflow ${(oldPath / viaPcpflow).toFixed(1)}×`);
  } finally {
    await worker.stop();
    await labDown(lab.dir);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchFailover();
