import { readFileSync } from 'node:fs';
import * as z from 'zod/mini';
import { redisUrlProblem } from '../contracts/redis-url.ts';
import { registerSecret } from '../runtime/redact.ts';
import { HookConfigError } from './errors.ts';

/**
 * The part of the pcpflow config a hook uses, validated with zod/mini (a few kB, ~2 ms) because
 * the full ConfigSchema costs the hook ~25 ms of start-up. Sections the hook does not read
 * (PCP, backends, http, …) are left to `pcpflow config check` and the workers: a typo in a PCP
 * timeout must not make EFM's attach event vanish. Defaults and env overrides mirror
 * contracts/config.ts and runtime/config.ts; test/hooks/config.test.ts keeps them equal.
 */

export const DEFAULT_CONFIG_PATH = '/etc/pcpflow/pcpflow.yaml';

const EnvName = z.string().check(z.regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name'));
const FilePath = z.string().check(z.minLength(1), z.maxLength(4096));
const Millis = z.number().check(z.int(), z.positive());

const SecretRef = z
  .strictObject({ env: z.optional(EnvName), file: z.optional(FilePath) })
  .check(
    z.refine((s) => (s.env === undefined) !== (s.file === undefined), 'give exactly one of env or file'),
  );
export type HookSecretRef = z.infer<typeof SecretRef>;

const HostPort = z.looseObject({
  host: z.string().check(z.minLength(1)),
  port: z.number().check(z.int(), z.minimum(1), z.maximum(65535)),
});

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
});
export type HookRedisConfig = z.infer<typeof HookRedisSchema>;

const HookClusterSchema = z.looseObject({
  name: z
    .string()
    .check(
      z.regex(
        /^[a-z0-9][a-z0-9_-]{0,62}$/,
        'must be 1-63 of a-z, 0-9, _ and -, starting with a letter or digit',
      ),
    ),
  fence: z._default(
    z.looseObject({
      mode: z._default(z.enum(['fail-open', 'fail-closed']), 'fail-open'),
      timeoutMs: z._default(Millis, 10_000),
    }),
    { mode: 'fail-open', timeoutMs: 10_000 },
  ),
});

export const HookConfigSchema = z.looseObject({
  redis: z._default(HookRedisSchema, {
    url: 'redis://127.0.0.1:6379',
    keyPrefix: '{pcpflow}',
    publishTimeoutMs: 800,
  }),
  outbox: z._default(z.strictObject({ dir: FilePath }), { dir: '/var/spool/pcpflow' }),
  clusters: z.array(HookClusterSchema).check(z.minLength(1, 'at least one cluster')),
});
export type HookConfig = z.infer<typeof HookConfigSchema>;
export type HookCluster = HookConfig['clusters'][number];

export interface LoadedHookConfig {
  path: string;
  config: HookConfig;
}

async function readRaw(path: string): Promise<unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new HookConfigError(
      `${path}: cannot read the config file (${code}); set --config or PCPFLOW_CONFIG`,
      undefined,
      { cause: err },
    );
  }
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
  if (env.PCPFLOW_OUTBOX_DIR) out.outbox = { dir: env.PCPFLOW_OUTBOX_DIR };
  return out;
}

export async function loadHookConfig(path: string, env: NodeJS.ProcessEnv): Promise<LoadedHookConfig> {
  const parsed = HookConfigSchema.safeParse(applyEnv(await readRaw(path), env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (i) => `${path}: ${i.path.length ? i.path.map(String).join('.') : '(top level)'}: ${i.message}`,
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
      value = readFileSync(ref.file ?? '', 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new HookConfigError(
        `redis.password: secret file ${ref.file} is not readable (${(err as NodeJS.ErrnoException).code})`,
        undefined,
        { cause: err },
      );
    }
  }
  registerSecret(value);
  return value;
}
