/** The roles a fleet member can run; its own module so `pcpflow worker --help` loads no worker code. */
export type Role = 'decider' | 'executor' | 'reconciler';
export const ALL_ROLES: readonly Role[] = ['decider', 'executor', 'reconciler'];
