import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { HostSchema, PortSchema } from '../contracts/address.ts';
import { InvalidInputError } from '../contracts/errors.ts';
import { formatIssues } from '../runtime/config.ts';

/**
 * What a caller may choose about a lab, and the fully resolved plan every other lab module works
 * from. Addresses default to 127.0.<id>.x so labs with different ids never share a socket: the
 * demo lab is id 0 (pgpool and Redis on 127.0.0.10, PostgreSQL on .11/.12/.13, all on port 5432
 * like EFM sees real hosts).
 */

/** The lab is a loopback-only tool: nothing it starts may listen on a routable address. */
const LoopbackHost = HostSchema.refine((h) => /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h), {
  message: 'must be an IPv4 loopback address (127.0.0.0/8)',
});

export const LabOptionsSchema = z.strictObject({
  id: z.number().int().min(0).max(250).default(0),
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'must be 1-32 of a-z, 0-9, _ and -')
    .optional(),
  dir: z.string().min(1).max(200).optional(),
  pgpoolHost: LoopbackHost.optional(),
  pgpoolPort: PortSchema.default(9999),
  pcpPort: PortSchema.default(9898),
  /**
   * pgpool instances. 1 = one pgpool, watchdog off (the default). 2-5 = that many pgpools on their
   * own loopback addresses (.10, then .21, .22, ...) joined by pgpool's watchdog, no virtual IP.
   */
  pgpools: z.number().int().min(1).max(5).default(1),
  /** One address per PostgreSQL node; the first starts as primary. */
  pgHosts: z.array(LoopbackHost).min(2).max(8).optional(),
  pgPort: PortSchema.default(5432),
  redisHost: LoopbackHost.optional(),
  redisPort: PortSchema.default(6380),
  /** pgpool's follow_primary_command, run by pgpool through a shell: quotes and newlines are refused. */
  followPrimaryCommand: z
    .string()
    .max(1024)
    .regex(/^[^'\\\n\r]*$/, 'must not contain quotes, backslashes or newlines (it goes into pgpool.conf)')
    .default(''),
  pgBinDir: z.string().min(1).optional(),
  pgpoolBinDir: z.string().min(1).default('/usr/sbin'),
  /** Upper bound for each wait (a node starting, pgpool answering); generous for slow CI. */
  stepTimeoutMs: z.number().int().positive().default(60_000),
});
export type LabOptions = z.input<typeof LabOptionsSchema>;

const NodePlanSchema = z.strictObject({
  name: z.string(),
  address: LoopbackHost,
  port: PortSchema,
  dataDir: z.string(),
  socketDir: z.string(),
  logFile: z.string(),
});
export type NodePlan = z.infer<typeof NodePlanSchema>;

/** One pgpool instance: its addresses and ports, and the files only it uses. */
const PgpoolPlanSchema = z.strictObject({
  /** pgpool_node_id; also the index in plan.pgpools. */
  index: z.number().int().min(0),
  /** Process role in lab.json: `pgpool` for the first, `pgpool1`, `pgpool2`, ... */
  role: z.string(),
  host: LoopbackHost,
  port: PortSchema,
  pcpPort: PortSchema,
  wdPort: PortSchema,
  heartbeatPort: PortSchema,
  dir: z.string(),
  conf: z.string(),
  run: z.string(),
  log: z.string(),
  logDir: z.string(),
});
export type PgpoolPlan = z.infer<typeof PgpoolPlanSchema>;

export const LabPlanSchema = z.strictObject({
  id: z.number().int(),
  name: z.string(),
  dir: z.string(),
  pgBinDir: z.string(),
  pgpoolBinDir: z.string(),
  stepTimeoutMs: z.number().int().positive(),
  followPrimaryCommand: z.string(),
  /** The first pgpool (the only one unless the lab has a watchdog cluster). */
  pgpool: z.strictObject({ host: LoopbackHost, port: PortSchema, pcpPort: PortSchema }),
  /** Every pgpool; more than one = a watchdog cluster. Labs written before this field have one. */
  pgpools: z.array(PgpoolPlanSchema).min(1).optional(),
  redis: z.strictObject({ host: LoopbackHost, port: PortSchema }),
  nodes: z.array(NodePlanSchema).min(2),
  paths: z.strictObject({
    state: z.string(),
    config: z.string(),
    pcppass: z.string(),
    pgpoolConf: z.string(),
    pcpConf: z.string(),
    poolHba: z.string(),
    pgpoolLog: z.string(),
    pgpoolDir: z.string(),
    run: z.string(),
    outbox: z.string(),
    redisDir: z.string(),
    redisLog: z.string(),
  }),
});
export type LabPlan = z.infer<typeof LabPlanSchema>;

/** The directory a lab with this id lives in unless told otherwise. */
export function defaultLabDir(id: number): string {
  return join(tmpdir(), `pcpflow-lab-${id}`);
}

/** Newest PostgreSQL found in Debian's layout; PATH is the fallback for other layouts. */
function detectPgBinDir(): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  }
  return '';
}

export function resolvePlan(input: LabOptions = {}): LabPlan {
  const parsed = LabOptionsSchema.safeParse(input);
  if (!parsed.success) {
    const problems = formatIssues(parsed.error.issues, 'lab options');
    throw new InvalidInputError(problems[0] ?? 'invalid lab options', problems);
  }
  const o = parsed.data;
  const net = `127.0.${o.id}`;
  const dir = resolve(o.dir ?? defaultLabDir(o.id));
  if (!isAbsolute(dir) || dir === '/') throw new InvalidInputError(`lab dir ${dir} is not usable`);
  const pgHosts = o.pgHosts ?? [`${net}.11`, `${net}.12`, `${net}.13`];
  const pgpoolHost = o.pgpoolHost ?? `${net}.10`;
  const nodes = pgHosts.map((address, i) => ({
    name: `pg${i}`,
    address,
    port: o.pgPort,
    dataDir: join(dir, `pg${i}`),
    socketDir: join(dir, 'run', `pg${i}`),
    logFile: join(dir, 'log', `pg${i}.log`),
  }));
  const pgpools = Array.from({ length: o.pgpools }, (_, i) => pgpoolPlan(i, o.pgpools, i === 0 ? pgpoolHost : `${net}.${20 + i}`, o, dir));
  const seen = new Set<string>();
  for (const hp of [
    ...pgpools.flatMap((p) => [`${p.host}:${p.port}`, `${p.host}:${p.pcpPort}`]),
    `${o.redisHost ?? pgpoolHost}:${o.redisPort}`,
    ...nodes.map((n) => `${n.address}:${n.port}`),
  ]) {
    if (seen.has(hp)) throw new InvalidInputError(`lab options: ${hp} is given to two services; choose distinct addresses or ports`);
    seen.add(hp);
  }
  return {
    id: o.id,
    name: o.name ?? (o.id === 0 ? 'lab' : `lab-${o.id}`),
    dir,
    pgBinDir: o.pgBinDir ?? detectPgBinDir(),
    pgpoolBinDir: o.pgpoolBinDir,
    stepTimeoutMs: o.stepTimeoutMs,
    followPrimaryCommand: o.followPrimaryCommand,
    pgpool: { host: pgpoolHost, port: o.pgpoolPort, pcpPort: o.pcpPort },
    pgpools,
    redis: { host: o.redisHost ?? pgpoolHost, port: o.redisPort },
    nodes,
    paths: {
      state: join(dir, 'lab.json'),
      // JSON rather than YAML: hooks parse it ~4 ms faster, and every drill step spawns hooks.
      config: join(dir, 'pcpflow.json'),
      pcppass: join(dir, '.pcppass'),
      pgpoolConf: join(dir, 'pgpool', 'pgpool.conf'),
      pcpConf: join(dir, 'pgpool', 'pcp.conf'),
      poolHba: join(dir, 'pgpool', 'pool_hba.conf'),
      pgpoolLog: join(dir, 'log', 'pgpool.log'),
      pgpoolDir: join(dir, 'pgpool'),
      run: join(dir, 'run'),
      outbox: join(dir, 'outbox'),
      redisDir: join(dir, 'redis'),
      redisLog: join(dir, 'log', 'redis.log'),
    },
  };
}

/**
 * The watchdog and heartbeat receivers bind their port on every address, so on one host each
 * instance needs its own: derived from the lab id so labs side by side never share one.
 */
function pgpoolPlan(i: number, count: number, host: string, o: z.infer<typeof LabOptionsSchema>, dir: string): PgpoolPlan {
  // The first instance keeps the single-pgpool paths, so a one-pgpool lab looks as it always did.
  const suffix = i === 0 ? '' : String(i);
  return {
    index: i,
    role: `pgpool${suffix}`,
    host,
    port: o.pgpoolPort,
    pcpPort: o.pcpPort,
    wdPort: 20_000 + o.id * 10 + i,
    heartbeatPort: 23_000 + o.id * 10 + i,
    dir: join(dir, `pgpool${suffix}`),
    conf: join(dir, `pgpool${suffix}`, 'pgpool.conf'),
    run: count === 1 ? join(dir, 'run') : join(dir, 'run', `pgpool${i}`),
    log: join(dir, 'log', `pgpool${suffix}.log`),
    logDir: join(dir, `pgpool${suffix}`),
  };
}

/** Every pgpool of a plan (a plan from before `pgpools` existed has the one in `pgpool`). */
export function pgpoolsOf(plan: LabPlan): PgpoolPlan[] {
  return (
    plan.pgpools ?? [
      {
        index: 0,
        role: 'pgpool',
        host: plan.pgpool.host,
        port: plan.pgpool.port,
        pcpPort: plan.pgpool.pcpPort,
        wdPort: 20_000 + plan.id * 10,
        heartbeatPort: 23_000 + plan.id * 10,
        dir: plan.paths.pgpoolDir,
        conf: plan.paths.pgpoolConf,
        run: plan.paths.run,
        log: plan.paths.pgpoolLog,
        logDir: plan.paths.pgpoolDir,
      },
    ]
  );
}

/** Binary path: a directory of the plan, or PATH when the directory is unknown. */
export function bin(dir: string, name: string): string {
  return dir ? join(dir, name) : name;
}
