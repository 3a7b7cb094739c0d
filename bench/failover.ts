import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { formatAddress } from '../contracts/address.ts';
import { callHook } from '../lab/drills/hook-call.ts';
import { startWorker } from '../lab/drills/fleet-processes.ts';
import * as nodes from '../lab/nodes.ts';
import { labDown, labUp, type LabHandle } from '../lab/index.ts';
import { Redis } from 'ioredis';
import { AuditStore } from '../audit/store.ts';
import type { AuditRecord } from '../contracts/audit.ts';
import { keys } from '../contracts/keys.ts';
import type { WorkerProcess } from '../lab/drills/fleet-processes.ts';
import { pollUntil } from '../lab/wait.ts';
import { createPcpOps, type PcpNode, type PcpOps } from '../pcp/index.ts';
import { PostgresStreamSource } from '../replication/postgres-source.ts';
import { freePort } from '../testkit/redis.ts';
import { fmtMs, median } from './stats.ts';
import { isAttached } from '../contracts/pgpool-node.ts';

const run = promisify(execFile);

/**
 * End-to-end figures on the real lab (issues 7 and 18), each against a baseline measured in the same run:
 *  - read capacity back after a primary failover, 5 rounds (BENCH_FAILOVER_ROUNDS) of three methods
 *    interleaved: pcpflow (post-promotion hook, the worker does the rest), the floor (a script
 *    issuing the same PCP steps at once: promote, then attach at the first look that sees the
 *    standby streaming) and the old follow_master.sh path (promote, `sleep 10`, attach); medians
 *    and spread, and where pcpflow's time goes, step by step, from its audit records;
 *  - detach: hook spawn → node seen down; vs the old synchronous path (pcp_node_count, a
 *    pcp_node_info per node, pcp_detach_node, spawned as pgpool_backend.sh did), and both minus a
 *    bare `node -e ''` start.
 * Over 300 lines: each figure and its baseline are measured on one lab in the same run, so they stay side by side.
 */
const LAB_ID = 10 + Number(process.env.PCPFLOW_TEST_LAB_OFFSET ?? '0');
const PREFIX = '{pcpflow}';

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
    // Closed in the background: the floor's script attaches as soon as this returns.
    void watch.close?.().catch(() => undefined);
  }
}

export async function benchFailover(): Promise<void> {
  const lab = await labUp({ id: LAB_ID, dir: join(process.env.TMPDIR ?? '/tmp', `pcpflow-bench-lab-${LAB_ID}`) });
  const cluster = lab.config.clusters[0];
  if (!cluster) throw new Error('no cluster');
  const pcp = createPcpOps(cluster);
  const host = (name: string) => lab.nodes.find((n) => n.name === name)?.address ?? name;
  let worker: WorkerProcess | undefined = await startWorker({ configPath: lab.configPath, httpPort: await freePort(), logFile: join(lab.dir, 'log', 'bench-worker.log') });
  const redis = new Redis(lab.redisUrl, { maxRetriesPerRequest: null });
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
    await worker.stop();
    worker = undefined;

    // Read capacity back after a primary failover: FAILOVER_ROUNDS rounds of the three methods,
    // interleaved, each on a real PostgreSQL promotion; the primary moves on every failover.
    const failoverRounds = Number(process.env.BENCH_FAILOVER_ROUNDS ?? 5);
    const samples: Record<Method, FailoverSample[]> = { pcpflow: [], floor: [], old: [] };
    const phases: PhaseBreakdown[] = [];
    const roles = { primary: 'pg0', target: 'pg1', other: 'pg2' };
    for (let round = 0; round < failoverRounds; round++) {
      for (const method of METHODS) {
        const ctx: SampleContext = { lab, pcp, redis, host, ...roles };
        const sample = await failoverOnce(method, ctx, (w) => (worker = w));
        worker = undefined;
        samples[method].push(sample);
        if (sample.phases) phases.push(sample.phases);
        process.stdout.write(
          `  round ${round + 1} ${method.padEnd(7)}: promotion → primary ${fmtMs(sample.toPrimaryMs).padStart(8)}, standby streaming → attached ${fmtMs(sample.streamingToAttachedMs).padStart(8)}\n`,
        );
        // The target is the primary now; the standby that followed it is the next target; the old
        // primary, rebuilt, is the other standby.
        Object.assign(roles, { primary: roles.target, target: roles.other, other: roles.primary });
      }
    }
    reportFailover(samples, phases);
  } finally {
    await worker?.stop();
    redis.disconnect();
    await labDown(lab.dir);
  }
}

type Method = 'pcpflow' | 'floor' | 'old';
const METHODS: readonly Method[] = ['pcpflow', 'floor', 'old'];

interface SampleContext {
  lab: LabHandle;
  pcp: PcpOps;
  redis: Redis;
  host: (name: string) => string;
  /** The primary that fails, the standby promoted, the standby that must follow it. */
  primary: string;
  target: string;
  other: string;
}

interface FailoverSample {
  /** Promotion handed over (hook spawned, PCP promote sent) → pgpool shows the new primary attached. */
  toPrimaryMs: number;
  /** The first look that sees the other standby streaming from the new primary → pgpool shows it attached. */
  streamingToAttachedMs: number;
  phases?: PhaseBreakdown;
}

/** pcpflow's path, each step as an offset (ms) from the hook's spawn; from audit records and the intake stream. */
interface PhaseBreakdown {
  intake: number;
  decision: number;
  pcpSent: number;
  visible: number;
  nextDecision: number;
  seenPrimary: number;
  streamingSeen: number;
  pcpflowSawStreaming: number;
  attachSent: number;
  attachConfirmed: number;
  seenAttached: number;
}

/** Wall-clock milliseconds now, on the clock audit records and stream ids use (performance.timeOrigin drifts from it). */
const wallNow = (): number => Date.now();
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One failover by one method: the primary stops, is fenced (detached) and pgpool ends its primary
 * search with none, PostgreSQL promotes the target; then, timed, the method makes pgpool switch
 * its primary, and 1 s later the other standby is re-pointed to the new primary (EFM's way). Every method ends on the same condition: pgpool shows the new primary attached,
 * and the other standby attached once it streams from it. The old primary is rebuilt and attached
 * again afterwards, outside the timing.
 */
async function failoverOnce(method: Method, ctx: SampleContext, onWorker: (w: WorkerProcess) => void): Promise<FailoverSample> {
  const { lab, pcp, host } = ctx;
  const addr = (name: string): string => formatAddress({ host: host(name), port: 5432 });
  let worker: WorkerProcess | undefined;
  const wallStart = wallNow();
  try {
    if (method === 'pcpflow') {
      // A clean start from pgpool's live view: the other methods changed pgpool behind its back.
      await ctx.redis.flushall();
      worker = await startWorker({ configPath: lab.configPath, httpPort: await freePort(), logFile: join(lab.dir, 'log', 'bench-worker.log') });
      onWorker(worker);
      await waitFor('the worker bootstrapped', async () => (await ctx.redis.exists(keys.snapshot(PREFIX, 'lab'))) === 1);
      await callHook(lab.configPath, 'lab', ['efm', 'detach', host(ctx.primary), 'p']);
      await nodes.stopNode(lab, ctx.primary, { immediate: true });
      const fence = await callHook(lab.configPath, 'lab', ['efm', 'fence', host(ctx.target), host(ctx.primary)], { node: host(ctx.target) });
      if (fence.code !== 0) throw new Error(`fence hook exited ${fence.code}: ${fence.stderr}`);
      await searchOver(pcp);
      await nodes.promoteNode(lab, ctx.target);
    } else {
      await failPrimary(lab, pcp, ctx.primary, ctx.target);
    }

    const t0 = performance.now();
    const wall0 = wallNow();
    const primaryUp = async (): Promise<boolean> => {
      const v = await view(pcp);
      return v.get(host(ctx.target))?.role === 'primary' && attached(v.get(host(ctx.target)));
    };
    let oldAttach: Promise<unknown> = Promise.resolve();
    let hookRun: Promise<{ code: number | null; stderr: string }> = Promise.resolve({ code: 0, stderr: '' });
    switch (method) {
      case 'pcpflow':
        hookRun = callHook(lab.configPath, 'lab', ['efm', 'post-promotion', host(ctx.target), host(ctx.primary)], { node: host(ctx.target) });
        break;
      case 'floor': {
        const p = await pcp.ensurePrimary(addr(ctx.target));
        if (p.result === 'failed') throw new Error(`floor promote failed: ${p.reason}`);
        break;
      }
      case 'old':
        await pcpBin(lab, 'pcp_promote_node', ['-n', String(nodeIndex(lab, ctx.target))]);
        // follow_master.sh: `sleep 10`, then attach the standby
        oldAttach = pause(10_000).then(() => pcpBin(lab, 'pcp_attach_node', ['-n', String(nodeIndex(lab, ctx.other))]));
        break;
    }
    const primarySeen = waitFor(`${method}: ${ctx.target} primary`, primaryUp).then(() => ({ at: performance.now(), wall: wallNow() }));
    const standbyBack = (async () => {
      // EFM re-points the standby a moment after the promotion: 1 s after pgpool shows the new
      // primary (by then pgpool's own 1 s pause after the promotion is over), or with
      // BENCH_REPOINT_FROM=promotion 1 s after the promotion is handed over (the standby then
      // streams inside that pause, and every method's attach waits for pgpool).
      const from = process.env.BENCH_REPOINT_FROM === 'promotion' ? t0 : (await primarySeen).at;
      await pause(Math.max(0, 1_000 - (performance.now() - from)));
      const sawStreaming = watchStreaming(`${host(ctx.other)}:5432`, `${host(ctx.target)}:5432`);
      const sawAttached = waitFor('the other standby attached', async () => attached((await view(pcp)).get(host(ctx.other)))).then(() => performance.now());
      await nodes.repointStandby(lab, ctx.other, ctx.target);
      const streaming = await sawStreaming;
      if (method === 'floor') {
        const a = await pcp.ensureAttached(addr(ctx.other));
        if (a.result === 'failed') throw new Error(`floor attach failed: ${a.reason}`);
      }
      return { streaming, attachedAt: await sawAttached };
    })();
    const seenPrimary = await primarySeen;
    const toPrimaryMs = seenPrimary.at - t0;
    const seenPrimaryWall = seenPrimary.wall;
    const { streaming, attachedAt } = await standbyBack;
    await oldAttach;
    const posted = await hookRun;
    if (posted.code !== 0) throw new Error(`post-promotion hook exited ${posted.code}: ${posted.stderr}`);
    const sample: FailoverSample = { toPrimaryMs, streamingToAttachedMs: attachedAt - streaming };
    if (method === 'pcpflow') {
      const seen = { seenPrimary: seenPrimaryWall - wall0, streamingSeen: streaming - t0, seenAttached: attachedAt - t0 };
      // The bench may see pgpool's change before the executor has written its audit record: wait for the records.
      await pollUntil('the audit records of the failover', async () => (sample.phases = await breakdown(ctx, wallStart, wall0, seen).catch(() => undefined)), {
        timeoutMs: 10_000,
        intervalMs: 100,
      }).catch(async () => {
        console.log(`  (no phase breakdown for this sample: ${await breakdown(ctx, wallStart, wall0, seen).then(() => 'ok', (e: unknown) => String(e))})`);
      });
    }

    // Restore, untimed: the old primary rebuilt as a standby of the new one and attached again.
    await nodes.rebuildAsStandby(lab, ctx.primary, ctx.target);
    if (method === 'pcpflow') {
      await callHook(lab.configPath, 'lab', ['efm', 'attach', host(ctx.primary), 's'], { node: host(ctx.primary) });
      await waitFor('the old primary back', async () => attached((await view(pcp)).get(host(ctx.primary))));
    } else {
      await pause(1_500); // pgpool's post-failback pause
      const back = await pcp.ensureAttached(addr(ctx.primary));
      if (back.result === 'failed') throw new Error(`re-attaching ${ctx.primary} failed: ${back.reason}`);
    }
    await pause(1_500);
    return sample;
  } finally {
    await worker?.stop();
  }
}

function nodeIndex(lab: LabHandle, name: string): number {
  const i = lab.nodes.findIndex((n) => n.name === name);
  if (i < 0) throw new Error(`no node ${name}`);
  return i;
}

/**
 * Where pcpflow's time went in one failover, from the intake entry's id (its arrival time in
 * Redis) and the audit records' times, as offsets from the hook's spawn.
 */
async function breakdown(ctx: SampleContext, since: number, wall0: number, seen: { seenPrimary: number; streamingSeen: number; seenAttached: number }): Promise<PhaseBreakdown> {
  const intake = await ctx.redis.xrange(keys.intake(PREFIX, 'lab'), String(Math.floor(wall0)), '+');
  const entry = intake.find(([, fields]) => (fields[1] ?? '').includes('"efm.post-promotion"'));
  if (!entry) throw new Error('the post-promotion event is not in the intake stream');
  const eventId = (JSON.parse(entry[1][1] ?? '{}') as { eventId?: string }).eventId;
  // From the sample's start: the stream wait for the other standby is planned at the fence, before the promotion.
  const records = (await new AuditStore(ctx.redis, PREFIX).query('lab', { since: new Date(since) })).map((r) => r.record);
  const at = (r: AuditRecord | undefined, what: string): number => {
    if (!r) {
      if (process.env.BENCH_DEBUG)
        for (const x of records) console.log(x.at, x.kind, x.eventType, x.eventId, x.actionId, x.outcome, JSON.stringify(x.actions), x.note.slice(0, 160));
      throw new Error(`no audit record for ${what}`);
    }
    return Date.parse(r.at) - wall0;
  };
  const decisions = records.filter((r) => r.kind === 'decision' && r.eventId === eventId);
  const decision = decisions[0];
  const promote = decisions.flatMap((r) => r.actions ?? []).find((a) => a.type === 'promote');
  const attempts = (actionId: string | undefined) => records.filter((r) => r.kind === 'action-attempt' && r.actionId === actionId);
  const promoteAttempts = attempts(promote?.actionId);
  const done = promoteAttempts.find((r) => r.outcome !== 'started');
  const next = records.find((r) => r.kind === 'decision' && done && Date.parse(r.at) >= Date.parse(done.at) && r.eventId !== eventId);
  const other = formatAddress({ host: ctx.host(ctx.other), port: 5432 });
  const planned = records.flatMap((r) => (r.kind === 'decision' ? (r.actions ?? []) : []));
  const actionOn = (type: string) => planned.find((a) => a.type === type && a.backend === other)?.actionId;
  const waited = attempts(actionOn('await-streaming'));
  const attach = attempts(actionOn('attach'));
  return {
    intake: Number(entry[0].split('-')[0]) - wall0,
    decision: at(decision, 'the post-promotion decision'),
    pcpSent: at(promoteAttempts[0], 'the promote attempt'),
    visible: at(done, 'the promote confirmed'),
    nextDecision: at(next, 'the decision after the promote'),
    seenPrimary: seen.seenPrimary,
    streamingSeen: seen.streamingSeen,
    pcpflowSawStreaming: at(waited.find((r) => r.outcome !== 'started' && r.outcome !== 'failed'), 'the stream wait ending'),
    attachSent: at(attach.find((r) => r.outcome === 'started'), 'the attach attempt'),
    attachConfirmed: at(attach.find((r) => r.outcome !== 'started'), 'the attach confirmed'),
    seenAttached: seen.seenAttached,
  };
}

function spread(xs: readonly number[]): string {
  return `median ${fmtMs(median(xs))} (min ${fmtMs(Math.min(...xs))}, max ${fmtMs(Math.max(...xs))}, n=${xs.length})`;
}

function reportFailover(samples: Record<Method, FailoverSample[]>, phases: readonly PhaseBreakdown[]): void {
  const total = (s: FailoverSample) => s.toPrimaryMs + s.streamingToAttachedMs;
  console.log('read capacity back after a primary failover, methods interleaved round by round:');
  for (const m of METHODS) {
    const xs = samples[m];
    console.log(`  ${m.padEnd(7)} promotion → primary attached: ${spread(xs.map((s) => s.toPrimaryMs))}`);
    console.log(`  ${''.padEnd(7)} standby streaming → attached: ${spread(xs.map((s) => s.streamingToAttachedMs))}`);
    console.log(`  ${''.padEnd(7)} sum (read capacity back):     ${spread(xs.map(total))}`);
  }
  const med = (m: Method, f: (s: FailoverSample) => number) => median(samples[m].map(f));
  const head = med('pcpflow', (s) => s.streamingToAttachedMs);
  console.log(
    `headline: standby streaming → back in load balancing, pcpflow median ${fmtMs(head)} (goal ≤ 250 ms) vs the floor ${fmtMs(med('floor', (s) => s.streamingToAttachedMs))} (same end condition, a script that attaches at the first look that sees it streaming)`,
  );
  console.log(
    `  read capacity back: pcpflow/floor ${(med('pcpflow', total) / med('floor', total)).toFixed(2)}× (goal ≤ 1.2×); old follow_master.sh path/pcpflow ${(med('old', total) / med('pcpflow', total)).toFixed(1)}×`,
  );
  if (phases.length === 0) return;
  // Each step: its label, and the step it is measured from (none: from the hook's spawn).
  const steps: [keyof PhaseBreakdown, string, keyof PhaseBreakdown | undefined][] = [
    ['intake', 'hook spawned → event in the intake stream', undefined],
    ['decision', '→ decided (audit)', 'intake'],
    ['pcpSent', '→ promote attempt started (PCP)', 'decision'],
    ['visible', '→ confirmed in pgpool node info', 'pcpSent'],
    ['nextDecision', '→ next decision (the outcome)', 'visible'],
    ['seenPrimary', '  (the bench sees the primary attached)', 'visible'],
    ['streamingSeen', 'standby re-pointed (1 s later): the bench sees it streaming', undefined],
    ['pcpflowSawStreaming', '→ pcpflow sees it streaming (audit)', 'streamingSeen'],
    ['attachSent', '→ attach attempt started (PCP)', 'pcpflowSawStreaming'],
    ['attachConfirmed', '→ attach confirmed in pgpool node info', 'attachSent'],
    ['seenAttached', '→ the bench sees it attached (headline end)', 'attachConfirmed'],
  ];
  console.log(`pcpflow's path over ${phases.length} failovers: median offset from the hook's spawn, and median step from the line it follows:`);
  for (const [k, label, from] of steps) {
    const at = median(phases.map((p) => p[k]));
    const step = from === undefined ? at : median(phases.map((p) => p[k] - p[from]));
    console.log(`  ${label.padEnd(56)} at ${fmtMs(at).padStart(9)}   step ${fmtMs(step).padStart(9)}`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchFailover();
