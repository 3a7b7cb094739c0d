/** The decision core's public surface: pure, deterministic, no I/O (design.md, dependency rules). */
export {
  backendMachine,
  BACKEND_STATE_NAMES,
  LEAF_PATHS,
  MachineInvariantError,
  type BackendStateName,
  type BackendEvent,
  type BackendContext,
  type LeafPath,
} from './backend-machine.ts';
export {
  ClusterSnapshotSchema,
  DEFAULT_DEDUPE_WINDOW_MS,
  SNAPSHOT_SCHEMA_VERSION,
  SnapshotDecodeError,
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
export { decide, staleFence, type Decision, type DecisionAudit } from './decide.ts';
export { backendViews, expectedFor, findDrift, resolveBackend, type BackendView, type Drift, type Expected, type ObservedNode } from './views.ts';
export {
  HistoryParseError,
  knownState,
  machineGraph,
  parseHistory,
  renderDiagram,
  toDot,
  toHtml,
  toMermaid,
  type DiagramDetail,
  type DiagramFormat,
  type GraphEdge,
  type GraphState,
  type HistoryStep,
  type MachineGraph,
  type RenderOptions,
} from './diagram.ts';
export { decisionBodies } from './audit-bodies.ts';
export { foldedGraph, toFoldedDot, toFoldedMermaid, type FoldedEdge, type FoldedGraph, type Visit } from './diagram-folded.ts';
