import type { ClusterConfig, Config, SecretRef } from '../contracts/config.ts';
import { applyConfigEnv } from '../contracts/config-env.ts';
import { findCluster } from '../contracts/find-cluster.ts';
import { registerSecret } from '../runtime/redact.ts';
import { FILE_LIMITS, readBoundedFile } from '../runtime/bounded-read.ts';
import { BoundedReadError } from '../runtime/errors.ts';
import { HookConfigError } from './errors.ts';
import { readYamlCache, writeYamlCache, type YamlCacheHit } from './yaml-cache.ts';

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

/**
 * Names the validation code the bundle carries (scripts/build-hook.ts defines it: a hash of
 * hooks/config-validate.ts bundled with zod and the schemas), so a validated config cached by
 * one build is never taken by another. Undefined outside the bundle: always validate.
 */
declare const PCPFLOW_HOOK_VALIDATOR: string | undefined;
const VALIDATOR = typeof PCPFLOW_HOOK_VALIDATOR === 'string' ? PCPFLOW_HOOK_VALIDATOR : undefined;

async function parseText(path: string, text: string, json: boolean): Promise<unknown> {
  try {
    // YAML's parser is loaded only for YAML files, and only when this user's cache of the same
    // text is missing (yaml-cache.ts).
    return json ? JSON.parse(text) : (await import('./yaml-entry.ts')).parse(text);
  } catch (err) {
    const msg = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    throw new HookConfigError(`${path}: not valid ${json ? 'JSON' : 'YAML'}: ${msg}`, undefined, {
      cause: err,
    });
  }
}

/**
 * Reads and validates the config. A config (YAML or JSON) whose very text this user's cache
 * holds (yaml-cache.ts) skips js-yaml, and skips validation too when the entry holds the
 * validated copy made by this bundle's validation code with no env override then or now (the
 * overrides change the result, and what they carry, such as a Redis URL with its password, is
 * not written to the cache): the same text through the same code gives the same config.
 */
export async function loadHookConfig(path: string, env: NodeJS.ProcessEnv): Promise<LoadedHookConfig> {
  const text = readConfigText(path);
  const json = path.endsWith('.json');
  const overridden = Object.keys(applyConfigEnv({}, env) ?? {}).length > 0;
  const cached: YamlCacheHit | undefined = readYamlCache(path, text);
  const reusable = VALIDATOR !== undefined && !overridden ? VALIDATOR : undefined;
  if (reusable !== undefined && cached?.validated?.validator === reusable) return { path, config: cached.validated.config as Config };

  const raw = cached ? cached.parsed : await parseText(path, text, json);
  const result = (await import('./config-validate.ts')).validateConfig(raw, env, path);
  const validated = reusable !== undefined && 'config' in result ? { validator: reusable, config: result.config } : undefined;
  if (cached === undefined || validated !== undefined) writeYamlCache(path, text, raw, validated);
  if ('problems' in result) {
    throw new HookConfigError(
      `${path}: ${result.problems.length} problem(s) in the config: ${result.problems.join('; ')}`,
      result.problems,
    );
  }
  return { path, config: result.config };
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
