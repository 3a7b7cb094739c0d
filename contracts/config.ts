import * as z from 'zod/mini';
import { isHost } from './address-syntax.ts';
import { describeIssue } from './issues.ts';
import { redisUrlProblem } from './redis-url.ts';

/**
 * The pcpflow configuration file. Every object is strict: an unknown key is a typo a DBA wants to
 * hear about, not something to ignore. Secrets are never values here, only where to read them
 * (an environment variable or a file), so a config file can be shown to anyone.
 *
 * Written with zod/mini, the one definition every reader uses: the worker and every command
 * (runtime/config.ts), the hook (hooks/config.ts) and the one-shot commands that must start in a
 * few ms (`pcp check-primary`, `outbox flush`). zod classic would cost them ~45 ms of start-up.
 * zod/mini carries no message locale: the checks here name their own problem, and
 * contracts/issues.ts words the generic ones.
 */

const EnvName = z.string().check(z.regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name'));
const FilePath = z.string().check(z.minLength(1), z.maxLength(4096));
const Millis = z.number().check(z.int(), z.positive());
const Host = z
  .string()
  .check(
    z.minLength(1, 'host is empty'),
    z.maxLength(253, 'host is longer than 253 characters'),
    z.refine(isHost, 'not an IPv4 address, IPv6 address or host name'),
  );
const Port = z.number().check(z.int(), z.minimum(1), z.maximum(65535));

export const SecretRefSchema = z
  .strictObject({ env: z.optional(EnvName), file: z.optional(FilePath) })
  .check(z.refine((s) => (s.env === undefined) !== (s.file === undefined), 'give exactly one of env or file'));
export type SecretRef = z.infer<typeof SecretRefSchema>;

const HostPort = z.strictObject({ host: Host, port: Port });

/** A block whose every field has a default: absent, it is the block parsed from {}. */
function defaulted<T extends z.core.$ZodType>(schema: T): z.ZodMiniDefault<T> {
  return z._default(schema, () => z.parse(schema, {}) as z.core.util.NoUndefined<z.core.output<T>>);
}

export const RedisConfigSchema = z.strictObject({
  url: z._default(
    z.string().check(
      z.maxLength(4096),
      z.check<string>((ctx) => {
        const problem = redisUrlProblem(ctx.value);
        if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
      }),
    ),
    'redis://127.0.0.1:6379',
  ),
  /** A Redis Cluster hash tag keeps every key of pcpflow in one slot so Lua and MULTI work. */
  keyPrefix: z._default(z.string().check(z.regex(/^\{[A-Za-z0-9_.-]+\}$/, 'must be a hash tag such as {pcpflow}')), '{pcpflow}'),
  username: z.optional(z.string().check(z.maxLength(128))),
  password: z.optional(SecretRefSchema),
  tls: z.optional(
    z.strictObject({
      caFile: z.optional(FilePath),
      certFile: z.optional(FilePath),
      keyFile: z.optional(FilePath),
      rejectUnauthorized: z._default(z.boolean(), true),
    }),
  ),
  sentinel: z.optional(
    z.strictObject({
      name: z.string().check(z.minLength(1)),
      sentinels: z.array(HostPort).check(z.minLength(1)),
      password: z.optional(SecretRefSchema),
    }),
  ),
  cluster: z.optional(z.strictObject({ nodes: z.array(HostPort).check(z.minLength(1)) })),
  /** How long a hook waits for Redis before it spools the event to the outbox. */
  publishTimeoutMs: z._default(Millis, 800),
  /** How long a pcpflow command (status, audit, operator commands) waits for Redis before it says so and exits 4. */
  connectTimeoutMs: z._default(Millis, 2_000),
});
export type RedisConfig = z.infer<typeof RedisConfigSchema>;

export const PcpEndpointSchema = z.strictObject({
  host: Host,
  port: z._default(Port, 9898),
  /** Shown in results and audit records: which pgpool (or the watchdog VIP) answered. */
  label: z.optional(z.string().check(z.maxLength(64))),
});
export type PcpEndpoint = z.infer<typeof PcpEndpointSchema>;

export const BackendConfigSchema = z.strictObject({
  address: Host,
  port: z._default(Port, 5432),
  /** Pin pgpool's backend id when host:port does not match pgpool's backend_hostnameN. */
  nodeId: z.optional(z.number().check(z.int(), z.minimum(0), z.maximum(127))),
});
export type BackendConfig = z.infer<typeof BackendConfigSchema>;

export const RetryPolicySchema = z.strictObject({
  attempts: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(100)), 8),
  backoffMs: z._default(Millis, 250),
  maxBackoffMs: z._default(Millis, 10_000),
  /** Fraction of each delay that is randomised, so a fleet does not retry in lockstep. */
  jitter: z._default(z.number().check(z.minimum(0), z.maximum(1)), 0.2),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

export const PcpTimeoutsSchema = z.strictObject({
  connectMs: z._default(Millis, 2_000),
  /** Per read: pgpool answers PCP in milliseconds unless it is stuck. */
  readMs: z._default(Millis, 5_000),
  /** How long an ensure* operation polls node info for the effect to become visible. */
  verifyMs: z._default(Millis, 15_000),
  /** Node info is cheap (one short PCP exchange); pgpool shows an effect 15-25 ms after accepting it. */
  pollIntervalMs: z._default(Millis, 10),
});
export type PcpTimeouts = z.infer<typeof PcpTimeoutsSchema>;

export const FencePolicySchema = z.strictObject({
  /**
   * fail-closed: if the detach of the failed primary is not confirmed in time, exit non-zero and
   * EFM does not promote (safer against split brain, may block failover). fail-open: exit 0 anyway.
   */
  mode: z._default(z.enum(['fail-open', 'fail-closed']), 'fail-open'),
  timeoutMs: z._default(Millis, 10_000),
  /** Whether an EFM detach of a primary whose database is still alive is carried out. */
  detachHealthyPrimary: z._default(z.boolean(), false),
});
export type FencePolicy = z.infer<typeof FencePolicySchema>;

export const StreamCheckSchema = z.strictObject({
  /**
   * Where pcpflow learns that a standby streams from the new primary before it attaches it again
   * after a promotion. auto: pgpool's replication state where its sr_check is configured, else
   * PostgreSQL (needs `postgres`). off: attach at once (stale reads possible until EFM re-points
   * the standby); only when the risk is understood.
   */
  source: z._default(z.enum(['auto', 'pgpool', 'postgres', 'off']), 'auto'),
  /** How often the standby is asked while pcpflow waits; an attach follows within about one interval. */
  pollIntervalMs: z._default(Millis, 25),
  /** Past this the standby stays out of pgpool, the backend goes to attention and a notification is sent. */
  deadlineMs: z._default(Millis, 120_000),
  /** A role that may read pg_stat_wal_receiver (pg_monitor), on every backend's own address and port. */
  postgres: z.optional(
    z.strictObject({
      user: z.string().check(z.minLength(1), z.maxLength(63)),
      password: z.optional(SecretRefSchema),
      database: z._default(z.string().check(z.minLength(1), z.maxLength(63)), 'postgres'),
      connectTimeoutMs: z._default(Millis, 2_000),
      ssl: z._default(z.enum(['disable', 'require']), 'disable'),
    }),
  ),
});
export type StreamCheck = z.infer<typeof StreamCheckSchema>;

export const AuditSinksSchema = z.strictObject({
  /** Redis stream entries kept per cluster; 0 keeps everything. */
  streamMaxLen: z._default(z.number().check(z.int(), z.minimum(0)), 0),
  jsonlFile: z.optional(FilePath),
});
export type AuditSinks = z.infer<typeof AuditSinksSchema>;

export const ClusterNameSchema = z
  .string()
  .check(z.regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 of a-z, 0-9, _ and -, starting with a letter or digit'));

export const ClusterConfigSchema = z
  .strictObject({
    name: ClusterNameSchema,
    pcp: z.strictObject({
      endpoints: z.array(PcpEndpointSchema).check(z.minLength(1, 'at least one PCP endpoint')),
      user: z.string().check(z.minLength(1), z.maxLength(127)),
      /** A .pcppass file (0600). Absent: PCPPASSFILE, then ~/.pcppass, as pcp_* do. */
      passfile: z.optional(FilePath),
      /** Use the pcp_* binaries instead of the native client (sites that insist). */
      driver: z._default(z.enum(['native', 'binaries']), 'native'),
      binDir: z.optional(FilePath),
    }),
    timeouts: defaulted(PcpTimeoutsSchema),
    backends: z.array(BackendConfigSchema).check(z.minLength(1, 'at least one backend')),
    retry: defaulted(RetryPolicySchema),
    reconcileIntervalMs: z._default(Millis, 5_000),
    /**
     * A backend in attention is retried once pgpool answers again and this long has passed since
     * it gave up (doubling after each retry that gives up again, up to an hour).
     */
    attentionRetryMs: z._default(Millis, 30_000),
    fence: defaulted(FencePolicySchema),
    streamCheck: defaulted(StreamCheckSchema),
    audit: defaulted(AuditSinksSchema),
    /** argv of a program run (never through a shell) with subject and body appended. */
    notificationCommand: z.optional(z.array(z.string().check(z.minLength(1))).check(z.minLength(1))),
  })
  .check(
    z.superRefine((c, ctx) => {
      const seen = new Set<string>();
      c.backends.forEach((b, i) => {
        const key = `${b.address}:${b.port}`;
        if (seen.has(key)) ctx.issues.push({ code: 'custom', input: b, path: ['backends', i], message: `duplicate backend ${key}` });
        seen.add(key);
      });
      if (c.streamCheck.source === 'postgres' && c.streamCheck.postgres === undefined)
        ctx.issues.push({
          code: 'custom',
          input: c.streamCheck,
          path: ['streamCheck', 'postgres'],
          message: 'source postgres needs postgres.user (and a password reference unless trust or a .pgpass applies)',
        });
    }),
  );
export type ClusterConfig = z.infer<typeof ClusterConfigSchema>;

export const ConfigSchema = z
  .strictObject({
    redis: defaulted(RedisConfigSchema),
    http: z._default(
      z.strictObject({
        host: z._default(Host, '127.0.0.1'),
        port: z._default(z.number().check(z.int(), z.minimum(0), z.maximum(65535)), 9464),
        /** Console auth: a bearer token or basic credentials, read from env or file. */
        token: z.optional(SecretRefSchema),
        basicAuth: z.optional(z.strictObject({ user: z.string().check(z.minLength(1)), password: SecretRefSchema })),
        /** A bearer token for /metrics alone (a Prometheus scraper); without it /metrics follows the console's auth. */
        metricsToken: z.optional(SecretRefSchema),
      }),
      { host: '127.0.0.1', port: 9464 },
    ),
    log: z._default(
      z.strictObject({ level: z._default(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), 'info') }),
      { level: 'info' },
    ),
    outbox: z._default(z.strictObject({ dir: FilePath }), { dir: '/var/spool/pcpflow' }),
    /**
     * Executor tuning. A killed worker's action is retried by another worker once its lock has
     * expired and a stalled check has run: at most lockDurationMs + stalledIntervalMs (7 s by
     * default). The lock is renewed every lockDurationMs / 2 while the action runs, so a short lock
     * costs one Redis write every 2 s per running action, nothing more. The retry is safe because
     * the executor reads pgpool first and acts only when pgpool differs.
     */
    workers: z._default(
      z.strictObject({
        concurrency: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(256)), 16),
        lockDurationMs: z._default(Millis.check(z.minimum(1_000)), 4_000),
        stalledIntervalMs: z._default(Millis.check(z.minimum(500)), 3_000),
      }),
      { concurrency: 16, lockDurationMs: 4_000, stalledIntervalMs: 3_000 },
    ),
    clusters: z.array(ClusterConfigSchema).check(z.minLength(1, 'at least one cluster')),
  })
  .check(
    z.superRefine((c, ctx) => {
      const seen = new Set<string>();
      c.clusters.forEach((cl, i) => {
        if (seen.has(cl.name)) ctx.issues.push({ code: 'custom', input: cl.name, path: ['clusters', i, 'name'], message: `duplicate cluster ${cl.name}` });
        seen.add(cl.name);
      });
    }),
  );
export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;

/** Zod-free, so the hook can tell whether any applies without building the schemas (hooks/config.ts). */
export { applyConfigEnv } from './config-env.ts';

/** "clusters.0.backends.1.port: expected number" — one line per problem, paths a DBA can find. */
export function formatConfigIssues(issues: readonly z.core.$ZodIssue[], file: string): string[] {
  return issues.map((i) => `${file}: ${i.path.length ? i.path.map(String).join('.') : '(top level)'}: ${describeIssue(i)}`);
}

/** In its own module so the hook can use it without building the schemas above (hooks/config.ts). */
export { findCluster } from './find-cluster.ts';
