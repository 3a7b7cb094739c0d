import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Config } from '../../contracts/config.ts';
import { createLogger } from '../../runtime/logger.ts';
import { createPcpOps } from '../../pcp/index.ts';
import { createMetricsGate } from '../../console/auth.ts';
import { startFleetMember, type FleetMember } from '../../workers/fleet.ts';
import { startWorker } from '../../lab/drills/fleet-processes.ts';
import { readState } from '../../lab/state.ts';
import { pollUntil } from '../../lab/wait.ts';
import { labId, startLab, type TestLab } from '../../testkit/lab.ts';
import { startRedis, freePort, type TestRedis } from '../../testkit/redis.ts';
import { attached, hookEvent, publish, records, testConfig, waitNode, waitRecord, waitSettled } from './helpers.ts';

/**
 * Issue 13 on the real lab: operator commands through the audited path, maintenance, attention
 * that recovers, Redis and pgpool faults injected by SIGSTOP/SIGKILL of the real processes, and
 * an audit that survives Redis losing its data. Durations are measured and reported as test
 * diagnostics, never asserted.
 * Over 300 lines: the tests share one lab, one Redis and the baseline each starts from; split, every file would start its own lab.
 */

const LAB_ID = labId(25);
const STANDBY = `127.0.${LAB_ID}.13`;
const STANDBY_ADDR = `${STANDBY}:5432`;
const CLI = fileURLToPath(new URL('../../bin/pcpflow.js', import.meta.url));
let lab: TestLab;
let redisServer: TestRedis;
let redis: Redis;
let work = '';
const prefix = '{pcpflow}';
const logger = createLogger({ level: (process.env.TEST_LOG_LEVEL as 'warn' | undefined) ?? 'warn', pretty: false });

before(async () => {
  lab = await startLab({ id: LAB_ID });
  work = mkdtempSync(join(tmpdir(), 'pcpflow-operate-'));
  // No persistence: the audit-loss test restarts it empty, as a Redis without AOF comes back.
  redisServer = await startRedis({ host: `127.0.${LAB_ID}.10` });
  redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
});

after(async () => {
  redis?.disconnect();
  await redisServer?.stop();
  await lab?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

function pgpoolPid(): number {
  const pid = Object.values(readState(join(lab.dir, 'lab.json')).processes).find((p) => p.kind === 'pgpool')?.pid;
  assert.ok(pid, 'the lab recorded its pgpool pid');
  return pid;
}

function configFor(patch?: (c: Config) => void) {
  return testConfig(lab, (c) => {
    c.redis.url = redisServer.url;
    c.redis.connectTimeoutMs = 1_000;
    c.outbox.dir = join(work, 'outbox');
    const cl = c.clusters[0];
    if (cl) cl.audit = { ...cl.audit, jsonlFile: join(work, 'audit.jsonl') };
    patch?.(c);
  });
}

/**
 * Every test starts from the standby attached and pcpflow at rest, whatever the test before left
 * (an operator attach also takes a backend out of attention).
 */
async function baseline(config: Config): Promise<void> {
  const { operatorEvent } = await import('../../workers/operator.ts');
  await waitSettled(redis, prefix);
  await publish(redis, prefix, operatorEvent('lab', { type: 'operator.command', command: 'attach', backend: STANDBY_ADDR, user: 'test', reason: 'baseline' }, []));
  await waitNode(config, STANDBY, attached, `${STANDBY} attached (baseline)`);
  await waitSettled(redis, prefix);
}

async function withMember<T>(fn: (m: FleetMember, config: Config, path: string) => Promise<T>, patch?: (c: Config) => void, http = false): Promise<T> {
  const { config, path } = configFor(patch);
  if (http) config.http.port = 0;
  const member = await startFleetMember({ config, roles: ['decider', 'executor', 'reconciler'], logger, http, metricsGate: createMetricsGate(config.http) });
  try {
    await baseline(config);
    return await fn(member, config, path);
  } finally {
    await member.stop();
  }
}

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the real `pcpflow` command without blocking this process's event loop (a worker runs in it). */
async function cli(args: string[], configPath: string, shell?: string): Promise<CliResult> {
  const started = performance.now();
  const child = shell
    ? spawn('/bin/sh', ['-c', shell], { env: { ...process.env, PCPFLOW_CONFIG: configPath, PCPFLOW_CLI: `${process.execPath} ${CLI}` } })
    : spawn(process.execPath, [CLI, ...args], { env: { ...process.env, PCPFLOW_CONFIG: configPath } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr, ms: Math.round(performance.now() - started) };
}

/** One reconciler pass now, whatever lease an earlier pass left (deterministic, no waiting for the timer). */
async function reconcileNow(member: FleetMember, config: Config) {
  await redis.del(`${prefix}:lease:reconciler:lab`);
  return (await member.reconciler?.check(cluster(config))) ?? [];
}

const cluster = (c: Config) => {
  const cl = c.clusters[0];
  assert.ok(cl);
  return cl;
};

test('pcp detach/attach go through the audited path with the OS user and --reason; --direct is undone by the reconciler', async (t) => {
  await withMember(async (member, config, path) => {
    await waitSettled(redis, prefix);
    const detach = await cli(['pcp', 'detach', STANDBY, '--reason', 'replace the disk'], path);
    assert.equal(detach.code, 0, detach.stderr);
    assert.match(detach.stdout, /detach 127\.0\.\d+\.13:5432: done and confirmed by pgpool/);
    await waitNode(config, STANDBY, (n) => n.status === 'down', `${STANDBY} down`);
    const rec = (await records(redis, prefix)).find((r) => r.eventType === 'operator.command' && r.kind === 'decision' && r.note.includes('replace the disk'));
    assert.ok(rec, 'the operator command is decided and audited');
    assert.match(rec.note, /operator \S+ \(reason: replace the disk\) detaches/);
    await waitSettled(redis, prefix);

    const attach = await cli(['pcp', 'attach', STANDBY, '--reason', 'disk replaced', '--json'], path);
    assert.equal(attach.code, 0, attach.stderr);
    assert.equal(JSON.parse(attach.stdout).kind, 'done');
    await waitNode(config, STANDBY, attached, `${STANDBY} attached`);
    await waitSettled(redis, prefix);

    // --direct: the raw PCP call, and the warning that pcpflow will put it back.
    const direct = await cli(['pcp', 'detach', STANDBY, '--direct'], path);
    assert.equal(direct.code, 0, direct.stderr);
    assert.match(direct.stderr, /reconciler restores pcpflow's intended state/);
    const drift = await reconcileNow(member, config);
    assert.equal(drift[0]?.type, 'reconciler.drift', 'the direct detach is drift');
    await waitNode(config, STANDBY, attached, `${STANDBY} attached again by the reconciler`);
    await waitSettled(redis, prefix);
    t.diagnostic(`CLI durations (tsx start included): detach ${detach.ms} ms, attach ${attach.ms} ms`);
  });
});

test('an operator command when pgpool is frozen exits 4 and publishes nothing', async () => {
  await withMember(async (_m, _config, path) => {
    await waitSettled(redis, prefix);
    const before = (await records(redis, prefix)).length;
    const pid = pgpoolPid();
    process.kill(-pid, 'SIGSTOP');
    let r: CliResult;
    try {
      r = await cli(['pcp', 'detach', STANDBY], path);
    } finally {
      process.kill(-pid, 'SIGCONT');
    }
    assert.equal(r.code, 4, r.stderr);
    assert.match(r.stderr, /pgpool unreachable .*nothing was published/);
    assert.equal((await records(redis, prefix)).length, before);
  });
});

test('maintenance: held where the operator put it, drift reported not repaired, EFM request kept and applied when it ends; visible in status and metrics', async () => {
  await withMember(
    async (member, config, path) => {
      await waitSettled(redis, prefix);
      const on = await cli(['maintenance', 'on', STANDBY, '--reason', 'kernel upgrade'], path);
      assert.equal(on.code, 0, on.stderr);

      // EFM detaches it (the DBA stopped PostgreSQL): kept, no action.
      const detach = await publish(redis, prefix, hookEvent(['efm', 'detach', STANDBY, 's']));
      const held = await waitRecord(redis, prefix, (r) => r.eventId === detach.eventId, 'the detach audited');
      assert.match(held.note, /held: .* in maintenance .*kept, and decided when maintenance ends/);
      await waitSettled(redis, prefix);
      assert.ok(attached((await createPcpOps(cluster(config)).nodes()).nodes.find((n) => n.host === STANDBY) ?? { status: 'down', role: 'standby', id: 0, host: '', port: 0, weight: 0 }));

      // The DBA detaches it by hand: drift, reported, not repaired.
      const direct = await cli(['pcp', 'detach', STANDBY, '--direct'], path);
      assert.equal(direct.code, 0, direct.stderr);
      await waitNode(config, STANDBY, (n) => n.status === 'down', `${STANDBY} detached by hand`);
      assert.deepEqual(await reconcileNow(member, config), [], 'no drift event for a backend in maintenance');
      assert.deepEqual(await reconcileNow(member, config), [], 'still none on the next pass');

      const status = await cli(['status'], path);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /in maintenance since .* kernel upgrade/);
      assert.match(status.stdout, /up\*/);
      const check = await cli(['status', '--check'], path);
      assert.equal(check.code, 1, check.stdout);
      assert.match(check.stdout, /^CRITICAL: .*drift.*\(in maintenance\)\n$/);
      const metrics = await (await fetch(`http://127.0.0.1:${member.httpPort}/metrics`)).text();
      assert.match(metrics, /pcpflow_backends_in_maintenance\{cluster="lab"\} 1/);
      // Each pass ends in one outcome, counted: the two passes above, and the decider's.
      const passes = (loop: string, outcome: string) => Number(new RegExp(`pcpflow_loop_passes_total\\{loop="${loop}",outcome="${outcome}"\\} (\\d+)`).exec(metrics)?.[1] ?? 0);
      assert.ok(passes('reconciler', 'drift-held-in-maintenance') >= 2, 'the reconciler passes that found drift on a held backend are counted');
      assert.ok(passes('decider', 'decided') >= 1, 'the decider passes are counted');

      const seqAtOff = (await records(redis, prefix)).at(-1)?.seq ?? 0;
      const off = await cli(['maintenance', 'off', STANDBY], path);
      assert.equal(off.code, 0, off.stderr);
      assert.match(off.stdout, /deciding the request kept meanwhile \(efm\.detach/);
      await waitRecord(
        redis,
        prefix,
        (r) => r.seq > seqAtOff && r.kind === 'decision' && r.backend === STANDBY_ADDR && r.to === 'detached' && /EFM reports .* failed/.test(r.note),
        'the kept detach decided when maintenance ended',
      );
      await waitSettled(redis, prefix);
      const attach = await cli(['pcp', 'attach', STANDBY, '--reason', 'maintenance done'], path);
      assert.equal(attach.code, 0, attach.stderr);
      await waitNode(config, STANDBY, attached, `${STANDBY} attached`);
      await waitSettled(redis, prefix);
      const ok = await cli(['status', '--check'], path);
      assert.equal(ok.code, 0, ok.stdout);
      assert.match(ok.stdout, /^OK: 1 cluster\(s\), 3 backend\(s\) in step with pgpool\n$/);
    },
    undefined,
    true,
  );
});

test('attention recovers: pgpool frozen until the detach gives up, thawed, the reconciler retries after the cool-down', async (t) => {
  const patch = (c: Config) => {
    cluster(c).retry = { attempts: 2, backoffMs: 50, maxBackoffMs: 100, jitter: 0 };
    cluster(c).attentionRetryMs = 1;
  };
  await withMember(
    async (member, config) => {
      await waitSettled(redis, prefix);
      const pid = pgpoolPid();
      process.kill(-pid, 'SIGSTOP');
      let event;
      try {
        event = await publish(redis, prefix, hookEvent(['efm', 'detach', STANDBY, 's']));
        await waitRecord(redis, prefix, (r) => r.kind === 'decision' && r.to === 'attention', 'the detach gave up: attention', 90_000);
      } finally {
        process.kill(-pid, 'SIGCONT');
      }
      const metrics = await (await fetch(`http://127.0.0.1:${member.httpPort}/metrics`)).text();
      assert.match(metrics, /pcpflow_actions_gave_up_total\{cluster="lab",type="detach"\} 1/);
      const thawed = Date.now();
      // First pass after pgpool answers stamps the cool-down; a later pass retries.
      const retry = await pollUntil('a retry published', async () => (await reconcileNow(member, config)).find((e) => e.type === 'reconciler.retry'), {
        timeoutMs: 60_000,
        intervalMs: 200,
      });
      assert.equal(retry.backend, STANDBY_ADDR);
      await waitNode(config, STANDBY, (n) => n.status === 'down', `${STANDBY} down after the retry`);
      t.diagnostic(`thaw → standby out of pgpool: ${Date.now() - thawed} ms (attentionRetryMs 1 ms in this test; default 30 s)`);
      const rec = await waitRecord(redis, prefix, (r) => r.eventId === retry.eventId && r.kind === 'decision', 'the retry decided');
      assert.match(rec.note, /retry detach/);
      assert.ok(event);
      await waitSettled(redis, prefix);
      await publish(redis, prefix, hookEvent(['efm', 'attach', STANDBY, 's']));
      await waitNode(config, STANDBY, attached, `${STANDBY} attached`);
      await waitSettled(redis, prefix);
      await reconcileNow(member, config);
      const after = await (await fetch(`http://127.0.0.1:${member.httpPort}/metrics`)).text();
      assert.match(after, /pcpflow_pgpool_reachable\{cluster="lab",endpoint="[^"]+"\} 1/);
      assert.match(after, /pcpflow_backends\{cluster="lab",state="attention"\} 0/);
      assert.match(after, /pcpflow_build_info\{version="[^"]+",node="v\d+/);
    },
    patch,
    true,
  );
});

test('attention clear: the operator takes the intent back, the reconciler repairs the rest', async () => {
  const patch = (c: Config) => {
    cluster(c).retry = { attempts: 2, backoffMs: 50, maxBackoffMs: 100, jitter: 0 };
    cluster(c).attentionRetryMs = 3_600_000;
  };
  await withMember(async (member, config, path) => {
    await waitSettled(redis, prefix);
    const pid = pgpoolPid();
    const seqBefore = (await records(redis, prefix)).at(-1)?.seq ?? 0;
    process.kill(-pid, 'SIGSTOP');
    try {
      await publish(redis, prefix, hookEvent(['efm', 'detach', STANDBY, 's']));
      await waitRecord(redis, prefix, (r) => r.seq > seqBefore && r.kind === 'decision' && r.to === 'attention' && r.backend === STANDBY_ADDR, 'attention', 90_000);
    } finally {
      process.kill(-pid, 'SIGCONT');
    }
    const check = await cli(['status', '--check'], path);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /in attention/);
    const clear = await cli(['attention', 'clear', STANDBY, '--reason', 'pgpool thawed'], path);
    assert.equal(clear.code, 0, clear.stderr);
    assert.match(clear.stdout, /clears the attention/);
    await reconcileNow(member, config);
    await waitNode(config, STANDBY, (n) => n.status === 'down', `${STANDBY} detached by the reconciler after the clear`);
    await waitSettled(redis, prefix);
    await publish(redis, prefix, hookEvent(['efm', 'attach', STANDBY, 's']));
    await waitNode(config, STANDBY, attached, `${STANDBY} attached`);
    await waitSettled(redis, prefix);
  }, patch);
});

test('Redis frozen: /readyz 503 fast, status/audit/outbox exit 4 with one line, worker exits on SIGTERM', async (t) => {
  const { path } = configFor();
  const logFile = join(work, 'sigterm-worker.log');
  const worker = await startWorker({ configPath: path, httpPort: await freePort(), logFile });
  const pid = redisServer.pid();
  assert.ok(pid);
  process.kill(pid, 'SIGSTOP');
  try {
    const t0 = performance.now();
    const ready = await fetch(`http://127.0.0.1:${worker.httpPort}/readyz`);
    const readyMs = Math.round(performance.now() - t0);
    assert.equal(ready.status, 503);
    const health = await fetch(`http://127.0.0.1:${worker.httpPort}/healthz`);
    assert.equal(health.status, 200, '/healthz is about the process');
    const baselineCli = await cli(['--version'], path);
    const results: string[] = [`baseline \`pcpflow --version\` ${baselineCli.ms} ms`];
    for (const args of [['status'], ['status', '--check'], ['audit'], ['audit', '--verify']]) {
      const r = await cli(args, path);
      assert.equal(r.code, 4, `${args.join(' ')}: ${r.stderr}`);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line: ${r.stderr}`);
      assert.match(lines[0] ?? '', /^pcpflow: Redis at 127\.0\.\d+\.10:\d+ is unreachable/);
      assert.ok(!/ioredis|Unhandled| {4}at /.test(r.stderr + r.stdout), r.stderr);
      results.push(`${args.join(' ')} ${r.ms} ms`);
    }
    const t1 = performance.now();
    const child = spawn('kill', ['-TERM', String(worker.pid)]);
    await once(child, 'exit');
    await pollUntil('the worker exited', async () => {
      try {
        process.kill(worker.pid, 0);
        return undefined;
      } catch {
        return true;
      }
    }, { timeoutMs: 30_000, intervalMs: 50 });
    const stopMs = Math.round(performance.now() - t1);
    const log = readFileSync(logFile, 'utf8').split('\n').filter((l) => l !== '');
    for (const line of log) assert.doesNotThrow(() => JSON.parse(line), `one JSON object a line: ${JSON.stringify(line.slice(0, 200))}`);
    t.diagnostic(`Redis SIGSTOPped: /readyz 503 in ${readyMs} ms; ${results.join(', ')} (connectTimeoutMs 1000, tsx start included); SIGTERM → exit ${stopMs} ms (deadline 10000)`);
  } finally {
    process.kill(pid, 'SIGCONT');
    await worker.kill();
  }
});

test('output into a closed pipe ends quietly', async () => {
  const { path } = configFor();
  const r = await cli([], path, `$PCPFLOW_CLI audit --json | head -1 >/dev/null; echo "rc=$?"`);
  // With pipefail unavailable in sh, check the command's own stderr: nothing printed.
  assert.equal(r.stderr, '', r.stderr);
  const direct = await cli([], path, `$PCPFLOW_CLI audit --json 2>&1 | head -1`);
  assert.ok(!/EPIPE| {4}at /.test(direct.stdout), direct.stdout);
});

test('a worker SIGKILLed mid-action (pgpool frozen): the other worker retries it within the stalled window, one effective change', async (t) => {
  const { config, path } = configFor((c) => {
    // The production defaults for crash recovery; a connect timeout long enough that the attempt
    // is still in flight (pgpool frozen) when its worker is killed.
    c.workers = { concurrency: 8, lockDurationMs: 4_000, stalledIntervalMs: 3_000 };
    cluster(c).timeouts = { connectMs: 20_000, readMs: 20_000, verifyMs: 8_000, pollIntervalMs: 25 };
  });
  const logFile = join(work, 'killed-worker.log');
  const workers = [
    await startWorker({ configPath: path, httpPort: await freePort(), logFile, roles: 'decider,executor' }),
    await startWorker({ configPath: path, httpPort: await freePort(), logFile, roles: 'decider,executor' }),
  ];
  const pid = pgpoolPid();
  try {
    await baseline(config);
    process.kill(-pid, 'SIGSTOP');
    let killedAt = 0;
    let actionId: string | undefined;
    let victim: number | undefined;
    try {
      const event = await publish(redis, prefix, hookEvent(['efm', 'detach', STANDBY, 's']));
      const decision = await waitRecord(redis, prefix, (r) => r.eventId === event.eventId && r.kind === 'decision', 'detach decided');
      actionId = decision.actions?.[0]?.actionId;
      const started = await waitRecord(redis, prefix, (r) => r.actionId === actionId && r.outcome === 'started', 'attempt 1 started');
      const owner = workers.find((w) => started.note.includes(`:${w.pid}.`) || started.note.includes(`:${w.pid} `));
      assert.ok(owner, `the attempt names its worker: ${started.note}`);
      victim = owner.pid;
      killedAt = Date.now();
      await owner.kill();
    } finally {
      process.kill(-pid, 'SIGCONT');
    }
    const retried = await waitRecord(redis, prefix, (r) => r.actionId === actionId && r.outcome === 'started' && Date.parse(r.at) >= killedAt, 'the retry started on the other worker', 60_000);
    const retryMs = Date.parse(retried.at) - killedAt;
    assert.ok(!retried.note.includes(`:${victim}`), 'retried by the surviving worker');
    await waitNode(config, STANDBY, (n) => n.status === 'down', `${STANDBY} down`);
    await waitRecord(redis, prefix, (r) => r.actionId === actionId && (r.outcome === 'changed' || r.outcome === 'already'), 'the retry finished');
    const mine = (await records(redis, prefix)).filter((r) => r.actionId === actionId && r.outcome !== 'started');
    assert.equal(mine.filter((r) => r.outcome === 'changed' || r.outcome === 'already').length, 1, JSON.stringify(mine.map((r) => [r.attempt, r.outcome])));
    t.diagnostic(`SIGKILL → retry started on the other worker: ${retryMs} ms (lockDurationMs 4000 + stalledIntervalMs 3000; was 30000 + 30000); effective results: ${mine.map((r) => r.outcome).join(', ')}`);
    await publish(redis, prefix, hookEvent(['efm', 'attach', STANDBY, 's']));
    await waitNode(config, STANDBY, attached, `${STANDBY} attached`);
    await waitSettled(redis, prefix);
  } finally {
    for (const w of workers) await w.kill();
  }
});

test('the audit survives Redis losing its data: reset named by audit --verify, JSONL verifies across it, state re-bootstrapped', async () => {
  const { path } = configFor();
  const jsonl = join(work, 'audit.jsonl');
  await withMember(async () => {
    await waitSettled(redis, prefix);
    await publish(redis, prefix, hookEvent(['efm', 'notification', 'before', 'the loss']));
    await waitSettled(redis, prefix);
  });
  const lostHead = Number((await redis.get(`${prefix}:audit-head:lab`))?.split(' ')[0]);
  assert.ok(lostHead > 5);
  // Redis without persistence restarts empty.
  await redisServer.stop();
  await redisServer.start();
  // A fresh worker (no memory of the chain) finds its anchor in the JSONL file.
  await withMember(async () => {
    await publish(redis, prefix, hookEvent(['efm', 'notification', 'after', 'the loss']));
    await waitSettled(redis, prefix);
  });
  const all = await records(redis, prefix);
  const reset = all.find((r) => r.to === 'chain-reset');
  assert.ok(reset, 'a reset record');
  assert.equal(reset.seq, lostHead + 1, 'the chain continues from the last record the worker knew');
  assert.match(reset.note, /Redis lost records/);
  const boot = all.find((r) => r.to === 'bootstrapped');
  assert.match(boot?.note ?? '', /was gone from Redis .* re-bootstrapped from pgpool's live view/);

  const verify = await cli(['audit', '--verify'], path);
  assert.equal(verify.code, 1, verify.stdout);
  assert.match(verify.stdout, /RESET/);
  assert.match(verify.stdout, new RegExp(`records seq 1 to ${lostHead} are missing: record seq ${lostHead + 1}`));
  const file = await cli(['audit', '--verify', '--file', jsonl], path);
  assert.equal(file.code, 0, file.stdout);
  assert.match(file.stdout, new RegExp(`intact .*continues across 1 Redis loss\\(es\\) at seq ${lostHead + 1}`));
});
