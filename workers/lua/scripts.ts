import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../runtime/package-root.ts';

/**
 * Lua lives in .lua files in workers/lua/, as BullMQ keeps its scripts apart from TypeScript;
 * the package ships them there, so the built JavaScript finds them from the package root.
 */
function load(name: string): string {
  return readFileSync(join(packageRoot(), 'workers', 'lua', `${name}.lua`), 'utf8');
}

export const COMMIT_DECISION_LUA = load('commit-decision');
export const APPEND_AUDIT_LUA = load('append-audit');
