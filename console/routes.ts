import type { AuditStore } from '../audit/store.ts';
import type { Config } from '../contracts/config.ts';
import type { RouteHandler } from '../workers/http.ts';

/** The audit console's routes; filled in by the console capability (issue 8). */
export function consoleRoutes(_ctx: { config: Config; audit: AuditStore }): RouteHandler[] {
  return [];
}
