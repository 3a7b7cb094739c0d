import { statSync } from 'node:fs';
import { FILE_LIMITS, readBoundedFile } from './bounded-read.ts';
import { createRequire } from 'node:module';
import { applyConfigEnv, ConfigSchema, findCluster, formatConfigIssues, type ClusterConfig, type Config, type SecretRef } from '../contracts/config.ts';
import { registerSecret } from './redact.ts';
import { BoundedReadError, ConfigError, SecretUnavailableError } from './errors.ts';

const requireCjs = createRequire(import.meta.url);

/**
 * The hooks' YAML parser (js-yaml with YAML 1.2's core schema, as hooks/yaml-entry.ts): a hook
 * and the CLI read a config the same way. Required only for a YAML file, so a command given a
 * JSON config never loads it (~15 ms of a one-shot command's start).
 */
function parseYaml(text: string): unknown {
  const { load, CORE_SCHEMA } = requireCjs('js-yaml') as typeof import('js-yaml');
  return load(text, { schema: CORE_SCHEMA });
}

export const DEFAULT_CONFIG_PATH = '/etc/pcpflow/pcpflow.yaml';

export function configPathFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.PCPFLOW_CONFIG ?? DEFAULT_CONFIG_PATH;
}

/** "clusters.0.backends.1.port: expected number" — one line per problem, paths a DBA can find. */
export const formatIssues = formatConfigIssues;

function readRaw(path: string): unknown {
  let text: string;
  try {
    text = readBoundedFile(path, FILE_LIMITS.config).toString('utf8');
  } catch (err) {
    const code = err instanceof BoundedReadError ? err.code : 'error';
    // Not there or not permitted: point at the flag. Not a regular file or too big: say which.
    const why = code === 'ENOTREG' || code === 'EFBIG' ? `the config file ${(err as BoundedReadError).message}` : `cannot read the config file (${code})`;
    throw new ConfigError(`${path}: ${why}; set --config or PCPFLOW_CONFIG`, undefined, {
      cause: err,
    });
  }
  try {
    return path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(`${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${msg}`, undefined, {
      cause: err,
    });
  }
}

/** Files the config names must exist, be readable, and (passfiles) be 0600 as pgpool demands. */
function checkFiles(config: Config, file: string): string[] {
  const problems: string[] = [];
  const checked = new Set<string>();
  config.clusters.forEach((c, i) => {
    // A fleet's clusters usually share one passfile: check each file once.
    if (c.pcp.passfile === undefined || checked.has(c.pcp.passfile)) return;
    checked.add(c.pcp.passfile);
    const where = `${file}: clusters.${i}.pcp.passfile`;
    try {
      const st = statSync(c.pcp.passfile);
      if (!st.isFile()) problems.push(`${where}: ${c.pcp.passfile} is not a regular file`);
      else if ((st.mode & 0o077) !== 0)
        problems.push(`${where}: ${c.pcp.passfile} has mode ${(st.mode & 0o777).toString(8)}; run chmod 600 on it (pgpool ignores group/world readable passfiles)`);
      else readBoundedFile(c.pcp.passfile, FILE_LIMITS.secret);
    } catch (err) {
      if (err instanceof BoundedReadError) problems.push(`${where}: ${c.pcp.passfile} ${err.message}`);
      else {
        const code = (err as NodeJS.ErrnoException).code;
        if (code) problems.push(`${where}: ${c.pcp.passfile} is not readable (${code})`);
      }
    }
  });
  return problems;
}

export interface LoadedConfig {
  path: string;
  config: Config;
}

export function loadConfig(pathFlag?: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const path = configPathFrom(pathFlag, env);
  const parsed = ConfigSchema.safeParse(applyConfigEnv(readRaw(path), env));
  if (!parsed.success) {
    const problems = formatIssues(parsed.error.issues, path);
    throw new ConfigError(`${path}: ${problems.length} problem(s) in the config`, problems);
  }
  const problems = checkFiles(parsed.data, path);
  if (problems.length) throw new ConfigError(`${path}: ${problems.length} problem(s) in the config`, problems);
  return { path, config: parsed.data };
}

export function selectCluster(config: Config, flag?: string, env: NodeJS.ProcessEnv = process.env): ClusterConfig {
  // An empty --cluster or PCPFLOW_CLUSTER means none given.
  const found = findCluster(config, (flag ?? env.PCPFLOW_CLUSTER) || undefined);
  if ('problem' in found) throw new ConfigError(found.problem);
  return found;
}

/** Reads a secret from its env var or file and registers it for redaction. */
export function readSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
  let value: string | undefined;
  if (ref.env !== undefined) {
    value = env[ref.env];
    if (value === undefined) throw new SecretUnavailableError(`environment variable ${ref.env} is not set`);
  } else if (ref.file !== undefined) {
    try {
      value = readBoundedFile(ref.file, FILE_LIMITS.secret).toString('utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new SecretUnavailableError(`secret file ${ref.file} ${err instanceof BoundedReadError ? err.message : 'is not readable'}`, undefined, {
        cause: err,
      });
    }
  }
  // An empty secret must never read as "no authentication" (or an empty Redis password).
  if (value === undefined || value.trim() === '')
    throw new SecretUnavailableError(`${ref.env !== undefined ? `environment variable ${ref.env}` : `secret file ${ref.file}`} is empty; put the secret in it`);
  registerSecret(value);
  return value;
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|localhost)$/i;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

/**
 * What only a process that serves HTTP (the worker, `pcpflow console`) and `config check` need:
 * the console's secrets exist and are not empty, and a console bound beyond loopback has auth.
 * Other commands do not read these secrets, so they are not refused for them.
 */
export function servingProblems(config: Config, file: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  const http = config.http;
  const refs: [string, SecretRef | undefined][] = [
    ['http.token', http.token],
    ['http.basicAuth.password', http.basicAuth?.password],
    ['http.metricsToken', http.metricsToken],
  ];
  for (const [path, ref] of refs) {
    if (!ref) continue;
    try {
      readSecret(ref, env);
    } catch (err) {
      if (!(err instanceof SecretUnavailableError)) throw err;
      problems.push(`${file}: ${path}: ${err.message}`);
    }
  }
  if (!isLoopback(http.host) && !http.token && !http.basicAuth)
    problems.push(
      `${file}: http.host: ${http.host} serves the console and /metrics beyond loopback without authentication; set http.token (or http.basicAuth) to a secret, or bind http.host to 127.0.0.1`,
    );
  return problems;
}

/** Throws the serving problems as one config error (exit 2). */
export function checkServing(config: Config, file: string, env: NodeJS.ProcessEnv = process.env): void {
  const problems = servingProblems(config, file, env);
  if (problems.length) throw new ConfigError(`${file}: ${problems.length} problem(s) in the config`, problems);
}
