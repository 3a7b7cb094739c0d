/** The decision core's public surface: pure, deterministic, no I/O (design.md, dependency rules). */
export { backendMachine } from './backend-machine.ts';
export { type BackendContext, type BackendEvent, type StateMeta } from './backend-types.ts';
export { MachineInvariantError, SnapshotDecodeError } from './errors.ts';
export { BACKEND_STATE_NAMES, LEAF_PATHS, isLeafPath, type BackendStateName, type LeafPath } from './state-path.ts';
export { unhandledReasons } from './unhandled.ts';
export {
  ClusterSnapshotSchema,
  DEFAULT_DEDUPE_WINDOW_MS,
  SNAPSHOT_SCHEMA_VERSION,
  decodeSnapshot,
  encodeSnapshot,
  policyOf,
  withPolicy,
  type ClusterSnapshot,
  type DecisionPolicy,
  type InitialBackend,
  type InitialSnapshotInput,
} from './snapshot.ts';
export { initialSnapshot } from './snapshot-actors.ts';
export { decide } from './decide.ts';
export type { Decision, DecisionAudit } from './decision.ts';
export { staleFence } from './on-hooks.ts';
export { backendViews, expectedFor, findDrift, resolveBackend, type BackendView, type Drift, type Expected, type ObservedNode } from './views.ts';
export { knownState, machineGraph, type GraphEdge, type GraphState, type MachineGraph } from './graph.ts';
export { decisionBodies, decisionEntries, type DecisionEntry } from './audit-bodies.ts';
