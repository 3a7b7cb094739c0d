import * as z from 'zod/mini';

/**
 * A backend as pgpool shows it, for the PCP client's replies and for events alike. zod/mini, so
 * the PCP client (and `pcp check-primary`) validates pgpool's answers without zod classic.
 */
export const PgpoolNodeStatusSchema = z.enum(['up', 'waiting', 'down', 'unused']);
export type PgpoolNodeStatus = z.infer<typeof PgpoolNodeStatusSchema>;
export const PgpoolRoleSchema = z.enum(['primary', 'standby']);
export type PgpoolRole = z.infer<typeof PgpoolRoleSchema>;
