import { z } from 'zod';
import { HostSchema, PortSchema } from './address.ts';
import { redisUrlProblem } from './redis-url.ts';

/**
 * The pcpflow configuration file. Every object is strict: an unknown key is a typo a DBA wants to
 * hear about, not something to ignore. Secrets are never values here, only where to read them
 * (an environment variable or a file), so a config file can be shown to anyone.
 */

const EnvName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name');
const FilePath = z.string().min(1).max(4096);
const Millis = z.number().int().positive();

export const SecretRefSchema = z
  .strictObject({ env: EnvName.optional(), file: FilePath.optional() })
  .refine((s) => (s.env === undefined) !== (s.file === undefined), {
    message: 'give exactly one of env or file',
  });
export type SecretRef = z.infer<typeof SecretRefSchema>;

const HostPort = z.strictObject({ host: HostSchema, port: PortSchema });

export const RedisConfigSchema = z.strictObject({
  url: z
    .string()
    .max(4096)
    .superRefine((u, ctx) => {
      const problem = redisUrlProblem(u);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default('redis://127.0.0.1:6379'),
  /** A Redis Cluster hash tag keeps every key of pcpflow in one slot so Lua and MULTI work. */
  keyPrefix: z
    .string()
    .regex(/^\{[A-Za-z0-9_.-]+\}$/, 'must be a hash tag such as {pcpflow}')
    .default('{pcpflow}'),
  username: z.string().max(128).optional(),
  password: SecretRefSchema.optional(),
  tls: z
    .strictObject({
      caFile: FilePath.optional(),
      certFile: FilePath.optional(),
      keyFile: FilePath.optional(),
      rejectUnauthorized: z.boolean().default(true),
    })
    .optional(),
  sentinel: z
    .strictObject({
      name: z.string().min(1),
      sentinels: z.array(HostPort).min(1),
      password: SecretRefSchema.optional(),
    })
    .optional(),
  cluster: z.strictObject({ nodes: z.array(HostPort).min(1) }).optional(),
  /** How long a hook waits for Redis before it spools the event to the outbox. */
  publishTimeoutMs: Millis.default(800),
  /** How long a pcpflow command (status, audit, operator commands) waits for Redis before it says so and exits 4. */
  connectTimeoutMs: Millis.default(2_000),
});
export type RedisConfig = z.infer<typeof RedisConfigSchema>;

export const PcpEndpointSchema = z.strictObject({
  host: HostSchema,
  port: PortSchema.default(9898),
  /** Shown in results and audit records: which pgpool (or the watchdog VIP) answered. */
  label: z.string().max(64).optional(),
});
export type PcpEndpoint = z.infer<typeof PcpEndpointSchema>;

export const BackendConfigSchema = z.strictObject({
  address: HostSchema,
  port: PortSchema.default(5432),
  /** Pin pgpool's backend id when host:port does not match pgpool's backend_hostnameN. */
  nodeId: z.number().int().min(0).max(127).optional(),
});
export type BackendConfig = z.infer<typeof BackendConfigSchema>;

export const RetryPolicySchema = z.strictObject({
  attempts: z.number().int().min(1).max(100).default(8),
  backoffMs: Millis.default(250),
  maxBackoffMs: Millis.default(10_000),
  /** Fraction of each delay that is randomised, so a fleet does not retry in lockstep. */
  jitter: z.number().min(0).max(1).default(0.2),
});
export type RetryPolicy = z.infer<typeof RetryPolicySchema>;

export const PcpTimeoutsSchema = z.strictObject({
  connectMs: Millis.default(2_000),
  /** Per read: pgpool answers PCP in milliseconds unless it is stuck. */
  readMs: Millis.default(5_000),
  /** How long an ensure* operation polls node info for the effect to become visible. */
  verifyMs: Millis.default(15_000),
  /** Node info is cheap (one short PCP exchange); pgpool shows an effect 15-25 ms after accepting it. */
  pollIntervalMs: Millis.default(10),
});
export type PcpTimeouts = z.infer<typeof PcpTimeoutsSchema>;

export const FencePolicySchema = z.strictObject({
  /**
   * fail-closed: if the detach of the failed primary is not confirmed in time, exit non-zero and
   * EFM does not promote (safer against split brain, may block failover). fail-open: exit 0 anyway.
   */
  mode: z.enum(['fail-open', 'fail-closed']).default('fail-open'),
  timeoutMs: Millis.default(10_000),
  /** Whether an EFM detach of a primary whose database is still alive is carried out. */
  detachHealthyPrimary: z.boolean().default(false),
});
export type FencePolicy = z.infer<typeof FencePolicySchema>;

export const StreamCheckSchema = z.strictObject({
  /**
   * Where pcpflow learns that a standby streams from the new primary before it attaches it again
   * after a promotion. auto: pgpool's replication state where its sr_check is configured, else
   * PostgreSQL (needs `postgres`). off: attach at once (stale reads possible until EFM re-points
   * the standby); only when the risk is understood.
   */
  source: z.enum(['auto', 'pgpool', 'postgres', 'off']).default('auto'),
  /** How often the standby is asked while pcpflow waits; an attach follows within about one interval. */
  pollIntervalMs: Millis.default(25),
  /** Past this the standby stays out of pgpool, the backend goes to attention and a notification is sent. */
  deadlineMs: Millis.default(120_000),
  /** A role that may read pg_stat_wal_receiver (pg_monitor), on every backend's own address and port. */
  postgres: z
    .strictObject({
      user: z.string().min(1).max(63),
      password: SecretRefSchema.optional(),
      database: z.string().min(1).max(63).default('postgres'),
      connectTimeoutMs: Millis.default(2_000),
      ssl: z.enum(['disable', 'require']).default('disable'),
    })
    .optional(),
});
export type StreamCheck = z.infer<typeof StreamCheckSchema>;

export const AuditSinksSchema = z.strictObject({
  /** Redis stream entries kept per cluster; 0 keeps everything. */
  streamMaxLen: z.number().int().min(0).default(0),
  jsonlFile: FilePath.optional(),
});
export type AuditSinks = z.infer<typeof AuditSinksSchema>;

export const ClusterNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 of a-z, 0-9, _ and -, starting with a letter or digit');

export const ClusterConfigSchema = z
  .strictObject({
    name: ClusterNameSchema,
    pcp: z.strictObject({
      endpoints: z.array(PcpEndpointSchema).min(1, 'at least one PCP endpoint'),
      user: z.string().min(1).max(127),
      /** A .pcppass file (0600). Absent: PCPPASSFILE, then ~/.pcppass, as pcp_* do. */
      passfile: FilePath.optional(),
      /** Use the pcp_* binaries instead of the native client (sites that insist). */
      driver: z.enum(['native', 'binaries']).default('native'),
      binDir: FilePath.optional(),
    }),
    timeouts: PcpTimeoutsSchema.default(PcpTimeoutsSchema.parse({})),
    backends: z.array(BackendConfigSchema).min(1, 'at least one backend'),
    retry: RetryPolicySchema.default(RetryPolicySchema.parse({})),
    reconcileIntervalMs: Millis.default(5_000),
    /**
     * A backend in attention is retried once pgpool answers again and this long has passed since
     * it gave up (doubling after each retry that gives up again, up to an hour).
     */
    attentionRetryMs: Millis.default(30_000),
    fence: FencePolicySchema.default(FencePolicySchema.parse({})),
    streamCheck: StreamCheckSchema.default(StreamCheckSchema.parse({})),
    audit: AuditSinksSchema.default(AuditSinksSchema.parse({})),
    /** argv of a program run (never through a shell) with subject and body appended. */
    notificationCommand: z.array(z.string().min(1)).min(1).optional(),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.backends.forEach((b, i) => {
      const key = `${b.address}:${b.port}`;
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['backends', i], message: `duplicate backend ${key}` });
      seen.add(key);
    });
    if (c.streamCheck.source === 'postgres' && c.streamCheck.postgres === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['streamCheck', 'postgres'],
        message: 'source postgres needs postgres.user (and a password reference unless trust or a .pgpass applies)',
      });
  });
export type ClusterConfig = z.infer<typeof ClusterConfigSchema>;

export const ConfigSchema = z
  .strictObject({
    redis: RedisConfigSchema.default(RedisConfigSchema.parse({})),
    http: z
      .strictObject({
        host: HostSchema.default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(9464),
        /** Console auth: a bearer token or basic credentials, read from env or file. */
        token: SecretRefSchema.optional(),
        basicAuth: z.strictObject({ user: z.string().min(1), password: SecretRefSchema }).optional(),
        /** A bearer token for /metrics alone (a Prometheus scraper); without it /metrics follows the console's auth. */
        metricsToken: SecretRefSchema.optional(),
      })
      .default({ host: '127.0.0.1', port: 9464 }),
    log: z
      .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info') })
      .default({ level: 'info' }),
    outbox: z.strictObject({ dir: FilePath }).default({ dir: '/var/spool/pcpflow' }),
    /**
     * Executor tuning. A killed worker's action is retried by another worker once its lock has
     * expired and a stalled check has run: at most lockDurationMs + stalledIntervalMs (7 s by
     * default). The lock is renewed every lockDurationMs / 2 while the action runs, so a short lock
     * costs one Redis write every 2 s per running action, nothing more. The retry is safe because
     * the executor reads pgpool first and acts only when pgpool differs.
     */
    workers: z
      .strictObject({
        concurrency: z.number().int().min(1).max(256).default(16),
        lockDurationMs: Millis.min(1_000).default(4_000),
        stalledIntervalMs: Millis.min(500).default(3_000),
      })
      .default({ concurrency: 16, lockDurationMs: 4_000, stalledIntervalMs: 3_000 }),
    clusters: z.array(ClusterConfigSchema).min(1, 'at least one cluster'),
  })
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.clusters.forEach((cl, i) => {
      if (seen.has(cl.name)) ctx.addIssue({ code: 'custom', path: ['clusters', i, 'name'], message: `duplicate cluster ${cl.name}` });
      seen.add(cl.name);
    });
  });
export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
