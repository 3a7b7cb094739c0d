import type { Action, ActionType } from '../contracts/actions.ts';
import type { ActionResult, PgpoolNodeStatus, PgpoolRole } from '../contracts/events.ts';

/**
 * The backend machine's vocabulary: what it remembers (context), what it is told (events), what
 * it hands back through `transition()` (the `issue` action) and the words its states keep for the
 * events they do not act on (meta). The router speaks it; backend-machine.ts defines the states.
 */

export interface ActionRef {
  /** `${eventId}.${index}`, chosen by the router so ids stay unique and deterministic per decision. */
  actionId: string;
  eventId: string;
  cluster: string;
  /** One sentence for the action's reason, written by the router that knows the hook's context. */
  why: string;
  /** For a wait on streaming: the primary the standby must follow (the router knows who it is). */
  primary?: string;
}

export interface GaveUp {
  actionId: string;
  type: ActionType;
  reason: string;
}

/** How pgpool had the backend when pcpflow first saw it; selects the first state after `boot`. */
export type Origin = 'standby-attached' | 'standby-detached' | 'primary';

export interface BackendContext {
  address: string;
  origin: Origin;
  pending: Action | null;
  gaveUp: GaveUp | null;
}

export interface BackendInput {
  address: string;
  origin: Origin;
}

export interface Observed {
  status: PgpoolNodeStatus;
  role: PgpoolRole;
}

export type BackendEvent =
  | { type: 'ATTACH'; ref: ActionRef }
  | { type: 'DETACH'; ref: ActionRef }
  | { type: 'PROMOTE'; ref: ActionRef }
  | { type: 'REATTACH'; ref: ActionRef }
  | { type: 'FOLLOW_PRIMARY'; ref: ActionRef }
  /** EFM attaches a standby while a promotion is in flight: attach once it follows the new primary. */
  | { type: 'ATTACH_FOLLOWING'; ref: ActionRef }
  /** The wait on streaming succeeded: the standby follows the new primary, attach it. */
  | { type: 'STREAMING'; ref: ActionRef }
  /**
   * EFM is about to promote another node (fence): take this standby out of load balancing before
   * the new primary can take writes through pgpool; it comes back once it streams from it.
   */
  | { type: 'STEP_ASIDE'; ref: ActionRef }
  /** The standby is out of pgpool (its detach confirmed): start the wait on its streaming. */
  | { type: 'AWAIT_STREAM'; ref: ActionRef }
  | { type: 'REBUILD_STARTED'; ref: ActionRef }
  | { type: 'DRIFT'; ref: ActionRef; observed: Observed }
  | { type: 'RETRY'; ref: ActionRef }
  | { type: 'CLEAR' }
  | { type: 'PEER_PROMOTING' }
  | { type: 'DEMOTE' }
  | { type: 'FAILED_PRIMARY' }
  | { type: 'REBUILD_DONE' }
  | { type: 'OUTCOME'; actionId: string; result: ActionResult; reason: string };

export type BackendEventType = BackendEvent['type'];

/**
 * Why an event changes nothing, kept in the machine next to the transitions it did not take, so the
 * audit trail and the diagram read the same words. `{name}` is filled in from the backend and the
 * event by unhandled.ts: event, path, actionId, pending, gaveUp, observed, expected.
 */
export interface StateMeta {
  /**
   * Why an event reaching this state changes nothing; `*` answers for any other event. The
   * innermost state that answers wins. `DRIFT.unexpected` is a drift report that differs from what
   * the state expects (`DRIFT` one that matches it).
   */
  unhandled?: Partial<Record<BackendEventType | 'DRIFT.unexpected' | '*', string>>;
  /** Root only: why an event that would start a PCP action waits while one is in flight (the `idle` guard). */
  inFlight?: string;
  /** Root only: why an outcome changes nothing in any state: no action of that id is in flight. */
  lateOutcome?: string;
}

/** The action `request` hands back through transition(): the PCP action to carry out. */
export type IssueAction = { type: 'issue'; params: Action };

