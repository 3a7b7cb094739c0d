/** The lab's programmatic API: what the CLI, tests and failover drills import. */
export { labUp, labDown, labStatus, openLab, labProcesses, type LabHandle, type LabStatus } from './lab.ts';
export { resolvePlan, defaultLabDir, type LabOptions, type LabPlan } from './options.ts';
export { LabError, LabCommandError, LabConflictError, LabNotFoundError, LabTimeoutError } from './errors.ts';
export * as nodes from './nodes.ts';
export * as pgpools from './pgpools.ts';
export { watchdogViews, waitWatchdogSettled, formatWatchdog, type WatchdogView } from './watchdog.ts';
