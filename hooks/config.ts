import { applyConfigEnv, ConfigSchema, findCluster, formatConfigIssues, type ClusterConfig, type Config, type SecretRef } from '../contracts/config.ts';
import { registerSecret } from '../runtime/redact.ts';
import { FILE_LIMITS, readBoundedFile } from '../runtime/bounded-read.ts';
import { BoundedReadError } from '../runtime/errors.ts';
import { HookConfigError } from './errors.ts';
import { readYamlCache, writeYamlCache } from './yaml-cache.ts';

/**
 * The pcpflow config as the hook reads it: the one schema of contracts/config.ts (zod/mini, a
 * few kB and ~2 ms, where zod classic cost the hook ~25 ms of start-up), so a config the worker
 * rejects (an unknown key, a bad PCP timeout) is rejected by the hook too, with the same
 * problems named, and a typo shows up on the first EFM call instead of at the worker's next
 * restart. What differs is the reading: a bounded read, and YAML's parser loaded only for YAML.
 * Env overrides mirror runtime/config.ts.
 */

export const DEFAULT_CONFIG_PATH = '/etc/pcpflow/pcpflow.yaml';

/** A config file larger than this is refused unread: /dev/zero or a runaway generator, not a config. */

export interface LoadedHookConfig {
  path: string;
  config: Config;
}

function readConfigText(path: string): string {
  try {
    return readBoundedFile(path, FILE_LIMITS.config).toString('utf8');
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
    // YAML's parser is loaded only for YAML files, and only when this user's cache of the same
    // text is missing (yaml-cache.ts): a JSON config, or a YAML one seen before, skips it.
    if (json) return JSON.parse(text);
    const cached = readYamlCache(path, text);
    if (cached !== undefined) return cached;
    const parsed = (await import('./yaml-entry.ts')).parse(text);
    writeYamlCache(path, text, parsed);
    return parsed;
  } catch (err) {
    const msg = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    throw new HookConfigError(`${path}: not valid ${json ? 'JSON' : 'YAML'}: ${msg}`, undefined, {
      cause: err,
    });
  }
}

export async function loadHookConfig(path: string, env: NodeJS.ProcessEnv): Promise<LoadedHookConfig> {
  const parsed = ConfigSchema.safeParse(applyConfigEnv(await readRaw(path), env));
  if (!parsed.success) {
    const problems = formatConfigIssues(parsed.error.issues, path);
    throw new HookConfigError(
      `${path}: ${problems.length} problem(s) in the config: ${problems.join('; ')}`,
      problems,
    );
  }
  return { path, config: parsed.data };
}

export function selectHookCluster(config: Config, name: string | undefined): ClusterConfig {
  const found = findCluster(config, name);
  if ('problem' in found) throw new HookConfigError(`--cluster: ${found.problem}`);
  return found;
}

/** Reads a secret from its env var or file and registers it for redaction (as runtime/config.ts does). */
export function readHookSecret(ref: SecretRef, env: NodeJS.ProcessEnv): string {
  let value: string;
  if (ref.env !== undefined) {
    const v = env[ref.env];
    if (v === undefined)
      throw new HookConfigError(`redis.password: environment variable ${ref.env} is not set`);
    value = v;
  } else {
    try {
      value = readBoundedFile(ref.file ?? '', FILE_LIMITS.secret).toString('utf8').replace(/\r?\n$/, '');
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
