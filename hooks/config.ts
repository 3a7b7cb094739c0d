import { isHost } from '../contracts/address-syntax.ts';
import * as z from 'zod/mini';
import { redisUrlProblem } from '../contracts/redis-url.ts';
import { registerSecret } from '../runtime/redact.ts';
import { readBoundedFile } from './bounded-read.ts';
import { HookConfigError } from './errors.ts';
import { BoundedReadError } from './errors.ts';

/**
 * The pcpflow config as the hook reads it, validated with zod/mini (a few kB, ~2 ms) because
 * contracts/config.ts's zod classic schema costs the hook ~25 ms of start-up. It is the same
 * schema written again, strict everywhere: a config the worker rejects (an unknown key, a bad
 * PCP timeout) is rejected by the hook too, so a typo shows up on the first EFM call instead of
 * at the worker's next restart. test/hooks/config.test.ts runs both on one corpus and requires
 * the same verdict. Defaults and env overrides mirror contracts/config.ts and runtime/config.ts.
 */

export const DEFAULT_CONFIG_PATH = '/etc/pcpflow/pcpflow.yaml';

/** A config file larger than this is refused unread: /dev/zero or a runaway generator, not a config. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const MAX_SECRET_BYTES = 64 * 1024;

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

const SecretRef = z
  .strictObject({ env: z.optional(EnvName), file: z.optional(FilePath) })
  .check(
    z.refine((s) => (s.env === undefined) !== (s.file === undefined), 'give exactly one of env or file'),
  );
export type HookSecretRef = z.infer<typeof SecretRef>;

const HostPort = z.strictObject({ host: Host, port: Port });

const HookRedisSchema = z.strictObject({
  url: z._default(
    // The same rule as contracts/config.ts: a URL that passes cannot crash endpointFrom.
    z.string().check(
      z.maxLength(4096),
      z.check<string>((ctx) => {
        const problem = redisUrlProblem(ctx.value);
        if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
      }),
    ),
    'redis://127.0.0.1:6379',
  ),
  keyPrefix: z._default(
    z.string().check(z.regex(/^\{[A-Za-z0-9_.-]+\}$/, 'must be a hash tag such as {pcpflow}')),
    '{pcpflow}',
  ),
  username: z.optional(z.string().check(z.maxLength(128))),
  password: z.optional(SecretRef),
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
      password: z.optional(SecretRef),
    }),
  ),
  cluster: z.optional(z.strictObject({ nodes: z.array(HostPort).check(z.minLength(1)) })),
  publishTimeoutMs: z._default(Millis, 800),
  /** For pcpflow commands, not hooks; accepted so one config file serves both. */
  connectTimeoutMs: z._default(Millis, 2_000),
});
export type HookRedisConfig = z.infer<typeof HookRedisSchema>;

const PcpEndpoint = z.strictObject({
  host: Host,
  port: z._default(Port, 9898),
  label: z.optional(z.string().check(z.maxLength(64))),
});

const Backend = z.strictObject({
  address: Host,
  port: z._default(Port, 5432),
  nodeId: z.optional(z.number().check(z.int(), z.minimum(0), z.maximum(127))),
});

const Retry = z.strictObject({
  attempts: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(100)), 8),
  backoffMs: z._default(Millis, 250),
  maxBackoffMs: z._default(Millis, 10_000),
  jitter: z._default(z.number().check(z.minimum(0), z.maximum(1)), 0.2),
});

const Timeouts = z.strictObject({
  connectMs: z._default(Millis, 2_000),
  readMs: z._default(Millis, 5_000),
  verifyMs: z._default(Millis, 15_000),
  pollIntervalMs: z._default(Millis, 10),
});

const Fence = z.strictObject({
  mode: z._default(z.enum(['fail-open', 'fail-closed']), 'fail-open'),
  timeoutMs: z._default(Millis, 10_000),
  detachHealthyPrimary: z._default(z.boolean(), false),
});

const StreamCheck = z.strictObject({
  source: z._default(z.enum(['auto', 'pgpool', 'postgres', 'off']), 'auto'),
  pollIntervalMs: z.optional(Millis),
  deadlineMs: z.optional(Millis),
  postgres: z.optional(
    z.strictObject({
      user: z.string().check(z.minLength(1), z.maxLength(63)),
      password: z.optional(SecretRef),
      database: z.optional(z.string().check(z.minLength(1), z.maxLength(63))),
      connectTimeoutMs: z.optional(Millis),
      ssl: z.optional(z.enum(['disable', 'require'])),
    }),
  ),
});

const AuditSinks = z.strictObject({
  streamMaxLen: z._default(z.number().check(z.int(), z.minimum(0)), 0),
  jsonlFile: z.optional(FilePath),
});

const HookClusterSchema = z
  .strictObject({
    name: z
      .string()
      .check(
        z.regex(
          /^[a-z0-9][a-z0-9_-]{0,62}$/,
          'must be 1-63 of a-z, 0-9, _ and -, starting with a letter or digit',
        ),
      ),
    pcp: z.strictObject({
      endpoints: z.array(PcpEndpoint).check(z.minLength(1, 'at least one PCP endpoint')),
      user: z.string().check(z.minLength(1), z.maxLength(127)),
      passfile: z.optional(FilePath),
      driver: z._default(z.enum(['native', 'binaries']), 'native'),
      binDir: z.optional(FilePath),
    }),
    timeouts: z.optional(Timeouts),
    backends: z.array(Backend).check(z.minLength(1, 'at least one backend')),
    retry: z.optional(Retry),
    reconcileIntervalMs: z.optional(Millis),
    attentionRetryMs: z.optional(Millis),
    fence: z._default(Fence, { mode: 'fail-open', timeoutMs: 10_000, detachHealthyPrimary: false }),
    streamCheck: z.optional(StreamCheck),
    audit: z.optional(AuditSinks),
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
      if (c.streamCheck?.source === 'postgres' && c.streamCheck.postgres === undefined)
        ctx.issues.push({
          code: 'custom',
          input: c.streamCheck,
          path: ['streamCheck', 'postgres'],
          message: 'source postgres needs postgres.user (and a password reference unless trust or a .pgpass applies)',
        });
    }),
  );

export const HookConfigSchema = z
  .strictObject({
    redis: z._default(HookRedisSchema, {
      url: 'redis://127.0.0.1:6379',
      keyPrefix: '{pcpflow}',
      connectTimeoutMs: 2_000,
      publishTimeoutMs: 800,
    }),
    http: z.optional(
      z.strictObject({
        host: z.optional(Host),
        port: z.optional(z.number().check(z.int(), z.minimum(0), z.maximum(65535))),
        token: z.optional(SecretRef),
        basicAuth: z.optional(z.strictObject({ user: z.string().check(z.minLength(1)), password: SecretRef })),
        metricsToken: z.optional(SecretRef),
      }),
    ),
    log: z.optional(
      z.strictObject({
        level: z.optional(z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'])),
      }),
    ),
    outbox: z._default(z.strictObject({ dir: FilePath }), { dir: '/var/spool/pcpflow' }),
    workers: z.optional(
      z.strictObject({
        concurrency: z.optional(z.number().check(z.int(), z.minimum(1), z.maximum(256))),
        lockDurationMs: z.optional(Millis),
        stalledIntervalMs: z.optional(Millis),
      }),
    ),
    clusters: z.array(HookClusterSchema).check(z.minLength(1, 'at least one cluster')),
  })
  .check(
    z.superRefine((c, ctx) => {
      const seen = new Set<string>();
      c.clusters.forEach((cl, i) => {
        if (seen.has(cl.name))
          ctx.issues.push({ code: 'custom', input: cl.name, path: ['clusters', i, 'name'], message: `duplicate cluster ${cl.name}` });
        seen.add(cl.name);
      });
    }),
  );
export type HookConfig = z.infer<typeof HookConfigSchema>;
export type HookCluster = HookConfig['clusters'][number];

export interface LoadedHookConfig {
  path: string;
  config: HookConfig;
}

function readConfigText(path: string): string {
  try {
    return readBoundedFile(path, MAX_CONFIG_BYTES).toString('utf8');
  } catch (err) {
    // Kept word for word from before: scripts grep for "cannot read the config file (ENOENT)".
    const what =
      err instanceof BoundedReadError && err.message.startsWith('cannot be read')
        ? `cannot read the config file (${err.code})`
        : `the config file ${err instanceof Error ? err.message : String(err)}`;
    throw new HookConfigError(`${path}: ${what}; set --config or PCPFLOW_CONFIG`, undefined, {
      cause: err,
    });
  }
}

async function readRaw(path: string): Promise<unknown> {
  const text = readConfigText(path);
  const json = path.endsWith('.json');
  try {
    // YAML's parser is loaded only for YAML files: JSON configs start a few ms faster.
    return json ? JSON.parse(text) : (await import('./yaml-entry.ts')).parse(text);
  } catch (err) {
    const msg = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    throw new HookConfigError(`${path}: not valid ${json ? 'JSON' : 'YAML'}: ${msg}`, undefined, {
      cause: err,
    });
  }
}

/** Same overrides as runtime/config.ts: how containers and tests point pcpflow elsewhere. */
export function applyEnv(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return raw;
  const out: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  if (env.PCPFLOW_REDIS_URL) {
    const redis = out.redis && typeof out.redis === 'object' ? out.redis : {};
    out.redis = { ...redis, url: env.PCPFLOW_REDIS_URL };
  }
  if (env.PCPFLOW_HTTP_PORT) {
    const port = Number(env.PCPFLOW_HTTP_PORT);
    const http = out.http && typeof out.http === 'object' ? out.http : {};
    out.http = { ...http, port: Number.isNaN(port) ? env.PCPFLOW_HTTP_PORT : port };
  }
  if (env.PCPFLOW_OUTBOX_DIR) out.outbox = { dir: env.PCPFLOW_OUTBOX_DIR };
  return out;
}

/**
 * zod/mini carries no message locale (loading one costs start-up time): the checks written here
 * carry their own messages, and the generic issues are worded here, as zod classic words them
 * for the worker, so `config check` and the hook name a problem alike.
 */
function describeIssue(i: z.core.$ZodIssue): string {
  if (i.message !== '' && i.message !== 'Invalid input') return i.message;
  switch (i.code) {
    case 'unrecognized_keys':
      return `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k.slice(0, 64)}"`).join(', ')}`;
    case 'invalid_type':
      return `expected ${i.expected}`;
    case 'invalid_value':
      return `must be one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return i.origin === 'array' || i.origin === 'string'
        ? `needs at least ${String(i.minimum)} ${i.origin === 'array' ? 'item(s)' : 'character(s)'}`
        : `must be ${i.inclusive ? 'at least' : 'more than'} ${String(i.minimum)}`;
    case 'too_big':
      return i.origin === 'array' || i.origin === 'string'
        ? `at most ${String(i.maximum)} ${i.origin === 'array' ? 'item(s)' : 'character(s)'}`
        : `must be ${i.inclusive ? 'at most' : 'less than'} ${String(i.maximum)}`;
    default:
      return i.message;
  }
}

export async function loadHookConfig(path: string, env: NodeJS.ProcessEnv): Promise<LoadedHookConfig> {
  const parsed = HookConfigSchema.safeParse(applyEnv(await readRaw(path), env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${path}: ${i.path.length ? i.path.map(String).join('.') : '(top level)'}: ${describeIssue(i)}`,
    );
    throw new HookConfigError(
      `${path}: ${problems.length} problem(s) in the config: ${problems.join('; ')}`,
      problems,
    );
  }
  return { path, config: parsed.data };
}

export function selectHookCluster(config: HookConfig, name: string | undefined): HookCluster {
  const names = config.clusters.map((c) => c.name).join(', ');
  if (name === undefined) {
    const only = config.clusters.length === 1 ? config.clusters[0] : undefined;
    if (only) return only;
    throw new HookConfigError(
      `--cluster: several clusters are configured (${names}); choose one with --cluster or PCPFLOW_CLUSTER`,
    );
  }
  const found = config.clusters.find((c) => c.name === name);
  if (!found)
    throw new HookConfigError(`--cluster: unknown cluster "${name.slice(0, 64)}"; configured: ${names}`);
  return found;
}

/** Reads a secret from its env var or file and registers it for redaction (as runtime/config.ts does). */
export function readHookSecret(ref: HookSecretRef, env: NodeJS.ProcessEnv): string {
  let value: string;
  if (ref.env !== undefined) {
    const v = env[ref.env];
    if (v === undefined)
      throw new HookConfigError(`redis.password: environment variable ${ref.env} is not set`);
    value = v;
  } else {
    try {
      value = readBoundedFile(ref.file ?? '', MAX_SECRET_BYTES).toString('utf8').replace(/\r?\n$/, '');
    } catch (err) {
      const what = err instanceof BoundedReadError ? err.message : String(err);
      throw new HookConfigError(`redis.password: secret file ${ref.file} ${what}`, undefined, { cause: err });
    }
  }
  // An empty secret must never read as "no password" (the worker refuses it the same way).
  if (value.trim() === '')
    throw new HookConfigError(`redis.password: ${ref.env !== undefined ? `environment variable ${ref.env}` : `secret file ${ref.file}`} is empty; put the secret in it`);
  registerSecret(value);
  return value;
}
