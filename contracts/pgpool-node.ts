import * as z from 'zod/mini';

/**
 * A backend as pgpool reports it over PCP (BACKEND_STATUS, role), declared once for the PCP
 * client, the decision core, the workers, the lab and events. zod/mini, so the PCP client (and
 * `pcp check-primary`) validates pgpool's answers without zod classic.
 */

/** By pgpool's status code: 0 unused, 1 connect-wait (shown `waiting`), 2 up, 3 down. */
export const PGPOOL_NODE_STATUSES = ['unused', 'waiting', 'up', 'down'] as const;

export const PgpoolNodeStatusSchema = z.enum(PGPOOL_NODE_STATUSES);
export type PgpoolNodeStatus = z.infer<typeof PgpoolNodeStatusSchema>;
export const PgpoolRoleSchema = z.enum(['primary', 'standby']);
export type PgpoolRole = z.infer<typeof PgpoolRoleSchema>;

/**
 * Up or waiting means attached: pgpool shows a node `waiting` until a session has used it, and
 * sends it queries like an `up` one. The one place this rule is written.
 */
export function isAttached(status: string): boolean {
  return status === 'up' || status === 'waiting';
}

/** The status with `waiting` shown as `up`: for comparing what several pgpools show. */
export function attachedness(status: string): string {
  return isAttached(status) ? 'up' : status;
}
