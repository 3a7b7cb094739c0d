import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../contracts/config.ts';
import { LabConflictError, LabError, LabNotFoundError } from './errors.ts';
import { run, serviceUser } from './exec.ts';
import { pgpoolsOf, resolvePlan, type LabOptions, type LabPlan } from './options.ts';
import { labConfig, writeLabConfig } from './pcpflow-config.ts';
import { PCP_USER, pcpNodeInfo, showPoolNodes, startPgpool, waitPgpoolReady, writePgpoolFiles, type PcpNodeLine } from './pgpool.ts';
import { assertFree } from './ports.ts';
import { cloneStandby, initPrimary, startPostgres, waitAcceptingSql, sql } from './postgres.ts';
import { familyOf, isOurs, killSurvivors, stopProcess, survivors, type ProcessIdentity, type ProcessKind } from './process.ts';
import { Steps, type StepSink } from './progress.ts';
import { redisUrl, startRedis, waitRedisReady } from './redis.ts';
import { newState, readState, recordProcess, writeState, type LabState } from './state.ts';
import { pollUntil } from './wait.ts';
import { formatWatchdog, waitWatchdogSettled, watchdogViews, type WatchdogView } from './watchdog.ts';

/** What callers (CLI, tests, drills) get back from `labUp`: where everything is. No secrets. */
export interface LabHandle {
  id: number;
  name: string;
  dir: string;
  configPath: string;
  config: Config;
  pcp: { host: string; port: number; user: string; passfile: string };
  pgpool: { host: string; port: number };
  /** Every pgpool (one unless the lab runs a watchdog cluster), in pgpool_node_id order. */
  pgpools: { role: string; host: string; port: number; pcpPort: number }[];
  redisUrl: string;
  nodes: { name: string; address: string; port: number; dataDir: string }[];
  plan: LabPlan;
  /** false when `labUp` found the lab already running and left it as it was. */
  created: boolean;
}

export function handleFor(plan: LabPlan, created: boolean): LabHandle {
  return {
    id: plan.id,
    name: plan.name,
    dir: plan.dir,
    configPath: plan.paths.config,
    config: labConfig(plan),
    pcp: { host: plan.pgpool.host, port: plan.pgpool.pcpPort, user: PCP_USER, passfile: plan.paths.pcppass },
    pgpool: { host: plan.pgpool.host, port: plan.pgpool.port },
    pgpools: pgpoolsOf(plan).map((p) => ({ role: p.role, host: p.host, port: p.port, pcpPort: p.pcpPort })),
    redisUrl: redisUrl(plan),
    nodes: plan.nodes.map((n) => ({ name: n.name, address: n.address, port: n.port, dataDir: n.dataDir })),
    plan,
    created,
  };
}

function statePath(dir: string): string {
  return join(dir, 'lab.json');
}

/** Every recorded process still alive and still the program we started. */
export function allRunning(state: LabState): boolean {
  const procs = Object.values(state.processes);
  return procs.length === state.plan.nodes.length + pgpoolsOf(state.plan).length + 1 && procs.every((p) => isOurs(p.pid, p.kind));
}

const STOP_SIGNAL: Record<ProcessKind, NodeJS.Signals> = {
  // SIGINT = pgpool's fast shutdown; SIGQUIT = PostgreSQL's immediate shutdown (a lab has nothing to flush).
  pgpool: 'SIGINT',
  postgres: 'SIGQUIT',
  redis: 'SIGTERM',
};

/** Every live process of the lab: the recorded ones that are still ours, and all their children. */
export function labProcesses(state: LabState): ProcessIdentity[] {
  const recorded = Object.values(state.processes);
  return familyOf(
    recorded.filter((p) => isOurs(p.pid, p.kind)).map((p) => p.pid),
    recorded.map((p) => p.pid),
  );
}

/** Stops every recorded process (pgpool first so it does not see backends vanish) and removes the dir. */
async function teardown(state: LabState, steps: Steps): Promise<void> {
  const procs = Object.entries(state.processes);
  const family = labProcesses(state);
  const pgpool = procs.filter(([, p]) => p.kind === 'pgpool');
  const others = procs.filter(([, p]) => p.kind !== 'pgpool');
  for (const group of [pgpool, others]) {
    await Promise.all(
      group.map(([role, p]) => steps.run(`stop ${role} (pid ${p.pid})`, () => stopProcess(p.pid, p.kind, STOP_SIGNAL[p.kind], 10_000))),
    );
  }
  await killSurvivors(family);
  const left = survivors(family);
  if (left.length)
    throw new LabError(`processes of lab ${state.plan.name} still running after stop: pids ${left.map((p) => p.pid).join(', ')}; the dir is kept`);
  // Retried: a process that was just stopped can still be flushing a log into the dir (ENOTEMPTY).
  await steps.run(`remove ${state.plan.dir}`, async () => rmSync(state.plan.dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 }));
}

function prepareDirs(plan: LabPlan): void {
  for (const d of [plan.dir, plan.paths.run, join(plan.dir, 'log'), plan.paths.redisDir, plan.paths.pgpoolDir, plan.paths.outbox])
    mkdirSync(d, { recursive: true });
  for (const n of plan.nodes) mkdirSync(n.socketDir, { recursive: true });
}

async function waitStandbysStreaming(plan: LabPlan): Promise<void> {
  const primary = plan.nodes[0];
  if (!primary) return;
  const want = plan.nodes.length - 1;
  await pollUntil(
    `${want} standbys streaming from ${primary.name}`,
    async () => {
      const n = Number(await sql(primary, "select count(*) from pg_stat_replication where state = 'streaming'"));
      return n >= want ? true : undefined;
    },
    { timeoutMs: plan.stepTimeoutMs, logHint: join(plan.dir, 'log') },
  );
}

export async function labUp(opts: LabOptions = {}, sink?: StepSink): Promise<LabHandle> {
  const steps = new Steps(sink);
  let plan = resolvePlan(opts);

  if (existsSync(statePath(plan.dir))) {
    const state = readState(statePath(plan.dir));
    if (state.phase === 'up' && allRunning(state)) {
      steps.note(`lab ${state.plan.name} is already up in ${state.plan.dir}; nothing to do`);
      return handleFor(state.plan, false);
    }
    steps.note(`lab ${state.plan.name} in ${state.plan.dir} is half up (crashed or interrupted): cleaning it first`);
    await teardown(state, steps);
    plan = resolvePlan(opts);
  } else if (existsSync(plan.dir) && readdirSync(plan.dir).length > 0) {
    throw new LabConflictError(`${plan.dir} exists, is not empty and holds no lab (no lab.json); choose another --dir or remove it`);
  }
  if (!plan.pgBinDir) throw new LabError('PostgreSQL server binaries not found under /usr/lib/postgresql; run bash scripts/setup.sh');

  await steps.run('check addresses are free', () =>
    assertFree([
      ...pgpoolsOf(plan).flatMap((p) => [
        { what: p.role, host: p.host, port: p.port },
        { what: `${p.role} PCP`, host: p.host, port: p.pcpPort },
        ...(plan.pgpools && plan.pgpools.length > 1
          ? [
              { what: `${p.role} watchdog`, host: '0.0.0.0', port: p.wdPort },
              { what: `${p.role} heartbeat`, host: '0.0.0.0', port: p.heartbeatPort },
            ]
          : []),
      ]),
      { what: 'redis', host: plan.redis.host, port: plan.redis.port },
      ...plan.nodes.map((n) => ({ what: n.name, host: n.address, port: n.port })),
    ]),
  );

  prepareDirs(plan);
  const sp = statePath(plan.dir);
  writeState(sp, newState(plan));
  const user = await serviceUser();
  // The servers write inside the dir as postgres; the state file is replaced (not edited) by us
  // on every update, so it always stays the caller's.
  if (user) await run(['chown', '-R', `${user.uid}:${user.gid}`, plan.dir], { as: null });

  const redis = steps.run(`redis on ${plan.redis.host}:${plan.redis.port}`, async () => {
    recordProcess(sp, 'redis', 'redis', await startRedis(plan));
    await waitRedisReady(plan);
  });

  const [primary, ...standbys] = plan.nodes;
  if (!primary) throw new LabError('a lab needs at least one node');
  const postgres = (async () => {
    await steps.run(`initdb ${primary.name}`, () => initPrimary(plan, primary));
    await steps.run(`start ${primary.name} (primary) on ${primary.address}:${primary.port}`, async () => {
      recordProcess(sp, primary.name, 'postgres', await startPostgres(plan, primary));
      await waitAcceptingSql(plan, primary);
    });
    await Promise.all(
      standbys.map(async (n) => {
        await steps.run(`pg_basebackup ${n.name} from ${primary.name}`, () => cloneStandby(plan, n, primary));
        await steps.run(`start ${n.name} (standby) on ${n.address}:${n.port}`, async () => {
          recordProcess(sp, n.name, 'postgres', await startPostgres(plan, n));
        });
      }),
    );
    await steps.run(`${standbys.length} standbys streaming`, () => waitStandbysStreaming(plan));
  })();
  // allSettled first: a failure in one branch must not leave the other writing state unobserved.
  const results = await Promise.allSettled([redis, postgres]);
  for (const r of results) if (r.status === 'rejected') throw withCleanupHint(r.reason, plan);

  try {
    writePgpoolFiles(plan);
    if (user) await run(['chown', '-R', `${user.uid}:${user.gid}`, plan.paths.pgpoolDir, plan.paths.run, ...pgpoolsOf(plan).map((p) => p.dir)], { as: null });
    const all = pgpoolsOf(plan);
    await Promise.all(
      all.map((p) =>
        steps.run(`${p.role} on ${p.host}:${p.port}, PCP ${p.pcpPort}${all.length > 1 ? `, watchdog ${p.wdPort}, heartbeat ${p.heartbeatPort}` : ''}`, async () => {
          recordProcess(sp, p.role, 'pgpool', await startPgpool(plan, p));
          await waitPgpoolReady(plan, p);
        }),
      ),
    );
    if (all.length > 1) {
      const leader = await steps.run(`watchdog: ${all.length} pgpools agree on a leader`, () => waitWatchdogSettled(plan));
      steps.note(`watchdog leader: ${leader}`);
    }
  } catch (err) {
    throw withCleanupHint(err, plan);
  }

  writeLabConfig(plan);
  const state = readState(sp);
  state.phase = 'up';
  writeState(sp, state);
  steps.note(`lab ${plan.name} up in ${steps.elapsedS().toFixed(2)} s; config: ${plan.paths.config}`);
  return handleFor(plan, true);
}

function withCleanupHint(err: unknown, plan: LabPlan): unknown {
  if (err instanceof LabError) {
    return new LabError(`${err.message}\nlab ${plan.name} is half up; logs in ${join(plan.dir, 'log')}; \`pcpflow lab down --dir ${plan.dir}\` cleans it`, {
      cause: err,
    });
  }
  return err;
}

/** Stops only the processes the lab recorded, then removes its dir. A missing lab is not an error. */
export async function labDown(dir: string, sink?: StepSink): Promise<{ existed: boolean }> {
  const steps = new Steps(sink);
  if (!existsSync(statePath(dir))) {
    if (!existsSync(dir)) {
      steps.note(`no lab in ${dir}; nothing to do`);
      return { existed: false };
    }
    if (readdirSync(dir).length === 0) {
      rmSync(dir, { recursive: true, force: true });
      return { existed: false };
    }
    throw new LabNotFoundError(`${dir} holds no lab.json: not removing a directory the lab did not create`);
  }
  const state = readState(statePath(dir));
  await teardown(state, steps);
  steps.note(`lab ${state.plan.name} down in ${steps.elapsedS().toFixed(2)} s`);
  return { existed: true };
}

export interface LabStatus {
  plan: LabPlan;
  phase: LabState['phase'];
  processes: { role: string; kind: ProcessKind; pid: number; running: boolean }[];
  /** pgpool's node table via PCP, or the reason it could not be read. */
  pcp: PcpNodeLine[] | { error: string };
  /** psql's rendering of SHOW pool_nodes, or the reason it failed. */
  poolNodes: string | { error: string };
  /** Each pgpool's watchdog view (empty for a one-pgpool lab). */
  watchdog: WatchdogView[];
  watchdogLines: string[];
}

function reason(err: unknown): { error: string } {
  return { error: err instanceof Error ? err.message.split('\n')[0] ?? err.message : String(err) };
}

export async function labStatus(dir: string): Promise<LabStatus> {
  const state = readState(statePath(dir));
  const processes = Object.entries(state.processes).map(([role, p]) => ({ role, kind: p.kind, pid: p.pid, running: isOurs(p.pid, p.kind) }));
  const [pcp, poolNodes, watchdog] = await Promise.all([
    pcpNodeInfo(state.plan).catch(reason),
    showPoolNodes(state.plan).catch(reason),
    pgpoolsOf(state.plan).length > 1 ? watchdogViews(state.plan) : Promise.resolve([]),
  ]);
  return { plan: state.plan, phase: state.phase, processes, pcp, poolNodes, watchdog, watchdogLines: formatWatchdog(watchdog) };
}

/** The handle of a lab that is up (for drills and tests that attach to an existing lab). */
export function openLab(dir: string): LabHandle {
  const state = readState(statePath(dir));
  return handleFor(state.plan, false);
}
