import { readFileSync } from 'node:fs';

/** Lua lives in .lua files next to this loader, as BullMQ keeps its scripts apart from TypeScript. */
function load(name: string): string {
  return readFileSync(new URL(`./${name}.lua`, import.meta.url), 'utf8');
}

export const COMMIT_DECISION_LUA = load('commit-decision');
export const APPEND_AUDIT_LUA = load('append-audit');
