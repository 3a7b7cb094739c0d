import { applyConfigEnv, ConfigSchema, formatConfigIssues, type Config } from '../contracts/config.ts';

/**
 * The config's validation by the worker's schema. hooks/config.ts imports it only when it must
 * validate (a config text this user's cache has no valid copy of): building zod's schemas and
 * running them cost ~7 ms of every hook start (bench/hooks.ts), and in the bundle this module
 * and everything only it imports (zod, the schemas) are evaluated at that import, not at start.
 */
export function validateConfig(raw: unknown, env: NodeJS.ProcessEnv, path: string): { config: Config } | { problems: string[] } {
  const parsed = ConfigSchema.safeParse(applyConfigEnv(raw, env));
  return parsed.success ? { config: parsed.data } : { problems: formatConfigIssues(parsed.error.issues, path) };
}
