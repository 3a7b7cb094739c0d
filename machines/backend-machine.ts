import { assign, setup, type SnapshotFrom } from 'xstate';
import { isLeafPath, MachineInvariantError, valueToPath, type LeafPath } from './paths.ts';

export {
  BACKEND_STATE_NAMES,
  isLeafPath,
  LEAF_PATHS,
  MachineInvariantError,
  pathToValue,
  stateNameOf,
  valueToPath,
  type BackendStateName,
  type LeafPath,
} from './paths.ts';
import type { Action, ActionType } from '../contracts/actions.ts';
import type { ActionResult, PgpoolNodeStatus, PgpoolRole } from '../contracts/events.ts';

/**
 * One backend as pgpool should see it. The top-level states are what a DBA asks about:
 *
 * - `up`: an attached standby that takes load-balanced reads. Its substates exist because pgpool's
 *   promote marks every other node down: `awaitingReattach` is a standby whose re-attach is owed
 *   once a promote elsewhere completes, `awaitingStream` one kept out of load balancing until it
 *   streams from the new primary (until EFM re-points it, it serves the old primary's frozen data;
 *   pcpflow detaches it first unless pgpool already marked it down), and
 *   `reattached` one that was re-attached for that promote (so pgpool's follow_primary_command for
 *   the same promote is not answered with a second attach).
 * - `detached`: kept out of pgpool (EFM reported it failed, or it was fenced).
 * - `promoted`: pgpool's primary. The router keeps at most one backend here.
 * - `rebuilding`: a former primary being rebuilt as a standby; kept out until EFM attaches it.
 * - `attention`: an action gave up; nothing acts on this backend until an outcome, a reconciler
 *   drift report or an operator event says what pgpool really has, or the reconciler retries the
 *   action (RETRY) once pgpool answers again, or an operator clears it (CLEAR).
 *
 * A state is the *target* pgpool should reach; `context.pending` is the PCP action under way to
 * get there. Every transition that asks for an action is guarded by `idle`, so a second action for
 * the same backend cannot be issued while one is in flight (invariant 2): the event is then
 * unhandled and the router audits it as ignored with the in-flight action as the reason.
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

function refOf(event: BackendEvent): ActionRef {
  if ('ref' in event) return event.ref;
  throw new MachineInvariantError(`event ${event.type} cannot start a PCP action`);
}

const isUp = (o: Observed): boolean => o.status === 'up' || o.status === 'waiting';

const outcomeOf = (event: BackendEvent) => (event.type === 'OUTCOME' ? event : null);

export const backendMachine = setup({
  types: {
    context: {} as BackendContext,
    events: {} as BackendEvent,
    input: {} as BackendInput,
  },
  guards: {
    idle: ({ context }) => context.pending === null,
    startsPrimary: ({ context }) => context.origin === 'primary',
    startsDetached: ({ context }) => context.origin === 'standby-detached',
    pendingSucceeded: ({ context, event }) => {
      const o = outcomeOf(event);
      return o !== null && context.pending?.actionId === o.actionId && (o.result === 'changed' || o.result === 'already');
    },
    streamSeen: ({ context, event }) => {
      const o = outcomeOf(event);
      return o !== null && context.pending?.actionId === o.actionId && context.pending.type === 'await-streaming' && (o.result === 'changed' || o.result === 'already');
    },
    pendingFailedAttempt: ({ context, event }) => {
      const o = outcomeOf(event);
      return o !== null && context.pending?.actionId === o.actionId && o.result === 'failed';
    },
    pendingGaveUp: ({ context, event }) => {
      const o = outcomeOf(event);
      return o !== null && context.pending?.actionId === o.actionId && o.result === 'gave-up';
    },
    lateSuccess: ({ context, event }, params: { type: ActionType }) => {
      const o = outcomeOf(event);
      return (
        o !== null &&
        context.gaveUp?.actionId === o.actionId &&
        context.gaveUp.type === params.type &&
        (o.result === 'changed' || o.result === 'already')
      );
    },
    gaveUpWas: ({ context }, params: { types: readonly ActionType[] }) => context.gaveUp !== null && params.types.includes(context.gaveUp.type),
    idleAndObservedDown: ({ context, event }) => context.pending === null && event.type === 'DRIFT' && !isUp(event.observed),
    idleAndObservedUp: ({ context, event }) => context.pending === null && event.type === 'DRIFT' && isUp(event.observed),
    idleAndNotObservedPrimary: ({ context, event }) =>
      context.pending === null && event.type === 'DRIFT' && !(isUp(event.observed) && event.observed.role === 'primary'),
    observedPrimary: ({ event }) => event.type === 'DRIFT' && isUp(event.observed) && event.observed.role === 'primary',
    observedStandbyUp: ({ event }) => event.type === 'DRIFT' && isUp(event.observed) && event.observed.role === 'standby',
  },
  actions: {
    /** Starts a PCP action: recorded as pending; the router turns it into a job. */
    request: assign(({ context, event }, params: { type: ActionType }) => {
      const ref = refOf(event);
      const action: Action = {
        actionId: ref.actionId,
        type: params.type,
        cluster: ref.cluster,
        backend: context.address,
        eventId: ref.eventId,
        reason: ref.why.slice(0, 500),
        // A detach on the way to a wait carries the primary the wait will be for.
        ...((params.type === 'await-streaming' || params.type === 'detach') && ref.primary !== undefined ? { primary: ref.primary } : {}),
      };
      return { pending: action, gaveUp: null };
    }),
    completePending: assign({ pending: null }),
    giveUp: assign(({ context, event }) => {
      const o = outcomeOf(event);
      const p = context.pending;
      if (!o || !p) throw new MachineInvariantError('giveUp without a pending action');
      return { pending: null, gaveUp: { actionId: p.actionId, type: p.type, reason: o.reason } };
    }),
    clearGaveUp: assign({ gaveUp: null }),
    /** Audit text only; returned by transition() and read by the router, never executed. */
    note: (_args, _params: { text: string }) => {},
  },
}).createMachine({
  id: 'backend',
  context: ({ input }) => ({ address: input.address, origin: input.origin, pending: null, gaveUp: null }),
  initial: 'boot',
  on: {
    OUTCOME: [
      // Nothing was asked of pgpool: the wait ended because the standby follows the new primary.
      { guard: 'streamSeen', actions: ['completePending', { type: 'note', params: { text: 'the wait is over: it streams from the new primary' } }] },
      { guard: 'pendingSucceeded', actions: ['completePending', { type: 'note', params: { text: 'pgpool confirmed the action' } }] },
      {
        guard: 'pendingFailedAttempt',
        actions: { type: 'note', params: { text: 'one attempt failed; the executor retries, the action stays in flight' } },
      },
      {
        guard: 'pendingGaveUp',
        target: '.attention',
        actions: ['giveUp', { type: 'note', params: { text: 'the executor gave up; the backend needs attention' } }],
      },
    ],
  },
  states: {
    boot: {
      always: [
        { guard: 'startsPrimary', target: 'promoted' },
        { guard: 'startsDetached', target: 'detached' },
        { target: 'up' },
      ],
    },
    up: {
      initial: 'serving',
      on: {
        DETACH: { guard: 'idle', target: 'detached', actions: { type: 'request', params: { type: 'detach' } } },
        REBUILD_STARTED: {
          guard: 'idle',
          target: 'rebuilding.inProgress',
          actions: { type: 'request', params: { type: 'detach' } },
        },
        PROMOTE: { guard: 'idle', target: 'promoted', actions: { type: 'request', params: { type: 'promote' } } },
        FAILED_PRIMARY: {
          target: 'rebuilding',
          actions: { type: 'note', params: { text: "EFM named it the failed primary; pgpool's promote of the new primary marks it down" } },
        },
        DRIFT: { guard: 'idleAndObservedDown', target: '.serving', actions: { type: 'request', params: { type: 'attach' } } },
      },
      states: {
        serving: {
          on: {
            PEER_PROMOTING: 'awaitingReattach',
            // pgpool calls follow_primary_command only after marking the node down itself.
            FOLLOW_PRIMARY: { guard: 'idle', target: 'awaitingStream', actions: { type: 'request', params: { type: 'await-streaming' } } },
            STEP_ASIDE: { guard: 'idle', target: 'awaitingStream', actions: { type: 'request', params: { type: 'detach' } } },
          },
        },
        // pgpool's promote usually marks the node down, but not when pgpool already found the new
        // primary by itself (it answers "already primary"): so the wait starts with a detach.
        awaitingReattach: {
          on: {
            REATTACH: { guard: 'idle', target: 'awaitingStream', actions: { type: 'request', params: { type: 'detach' } } },
            FOLLOW_PRIMARY: { guard: 'idle', target: 'awaitingStream', actions: { type: 'request', params: { type: 'await-streaming' } } },
            ATTACH: { guard: 'idle', target: 'awaitingStream', actions: { type: 'request', params: { type: 'detach' } } },
            ATTACH_FOLLOWING: { guard: 'idle', target: 'awaitingStream', actions: { type: 'request', params: { type: 'detach' } } },
            STEP_ASIDE: { guard: 'idle', target: 'awaitingStream', actions: { type: 'request', params: { type: 'detach' } } },
          },
        },
        // Out of pgpool until it streams from the new primary: an earlier attach would balance
        // reads to a standby still replaying the old primary's WAL. Always with an action in
        // flight: the detach that takes it out, then the wait on its streaming.
        awaitingStream: {
          on: {
            AWAIT_STREAM: { guard: 'idle', actions: { type: 'request', params: { type: 'await-streaming' } } },
            STREAMING: { guard: 'idle', target: 'reattached', actions: { type: 'request', params: { type: 'attach' } } },
            PEER_PROMOTING: 'awaitingReattach',
            FOLLOW_PRIMARY: {
              actions: { type: 'note', params: { text: 'already waiting until it streams from the new primary; attached then, not before' } },
            },
          },
        },
        reattached: {
          on: {
            PEER_PROMOTING: 'awaitingReattach',
            STEP_ASIDE: { guard: 'idle', target: 'awaitingStream', actions: { type: 'request', params: { type: 'detach' } } },
            FOLLOW_PRIMARY: {
              target: 'serving',
              actions: { type: 'note', params: { text: "already re-attached after the promote; pgpool's follow-primary call for it needs nothing more" } },
            },
          },
        },
      },
    },
    detached: {
      on: {
        ATTACH: { guard: 'idle', target: 'up', actions: { type: 'request', params: { type: 'attach' } } },
        ATTACH_FOLLOWING: { guard: 'idle', target: 'up.awaitingStream', actions: { type: 'request', params: { type: 'await-streaming' } } },
        PROMOTE: { guard: 'idle', target: 'promoted', actions: { type: 'request', params: { type: 'promote' } } },
        FAILED_PRIMARY: {
          target: 'rebuilding',
          actions: { type: 'note', params: { text: 'EFM named it the failed primary; it stays out until it is rebuilt and attached' } },
        },
        REBUILD_STARTED: 'rebuilding.inProgress',
        REBUILD_DONE: 'rebuilding.done',
        DRIFT: { guard: 'idleAndObservedUp', actions: { type: 'request', params: { type: 'detach' } } },
      },
    },
    promoted: {
      on: {
        DETACH: { guard: 'idle', target: 'detached', actions: { type: 'request', params: { type: 'detach' } } },
        DEMOTE: {
          target: 'detached',
          actions: { type: 'note', params: { text: "another backend became pgpool's primary; pgpool marks this one down itself" } },
        },
        FAILED_PRIMARY: {
          target: 'rebuilding',
          actions: { type: 'note', params: { text: "EFM named it the failed primary; pgpool's promote of the new primary marks it down" } },
        },
        DRIFT: { guard: 'idleAndNotObservedPrimary', actions: { type: 'request', params: { type: 'promote' } } },
      },
    },
    rebuilding: {
      initial: 'awaiting',
      on: {
        ATTACH: { guard: 'idle', target: 'up', actions: { type: 'request', params: { type: 'attach' } } },
        ATTACH_FOLLOWING: { guard: 'idle', target: 'up.awaitingStream', actions: { type: 'request', params: { type: 'await-streaming' } } },
        PROMOTE: { guard: 'idle', target: 'promoted', actions: { type: 'request', params: { type: 'promote' } } },
        REBUILD_STARTED: '.inProgress',
        REBUILD_DONE: '.done',
        DRIFT: { guard: 'idleAndObservedUp', actions: { type: 'request', params: { type: 'detach' } } },
      },
      states: {
        awaiting: {},
        inProgress: {},
        done: {},
      },
    },
    attention: {
      on: {
        OUTCOME: [
          { guard: { type: 'lateSuccess', params: { type: 'attach' } }, target: 'up', actions: 'clearGaveUp' },
          { guard: { type: 'lateSuccess', params: { type: 'detach' } }, target: 'detached', actions: 'clearGaveUp' },
          { guard: { type: 'lateSuccess', params: { type: 'promote' } }, target: 'promoted', actions: 'clearGaveUp' },
        ],
        // A drift report is pgpool's ground truth: adopt it without acting, a human decides the rest.
        DRIFT: [
          { guard: 'observedPrimary', target: 'promoted', actions: 'clearGaveUp' },
          { guard: 'observedStandbyUp', target: 'up', actions: 'clearGaveUp' },
          { target: 'detached', actions: 'clearGaveUp' },
        ],
        REBUILD_STARTED: { target: 'rebuilding.inProgress', actions: 'clearGaveUp' },
        REBUILD_DONE: { target: 'rebuilding.done', actions: 'clearGaveUp' },
        // The reconciler saw pgpool answer again past the cool-down: the intent stands, try once more.
        RETRY: [
          { guard: { type: 'gaveUpWas', params: { types: ['attach'] } }, target: 'up', actions: { type: 'request', params: { type: 'attach' } } },
          { guard: { type: 'gaveUpWas', params: { types: ['detach'] } }, target: 'detached', actions: { type: 'request', params: { type: 'detach' } } },
          // pcpflow carries a switchover out as a plain promote of pgpool's primary, so a retry is one.
          { guard: { type: 'gaveUpWas', params: { types: ['promote', 'promote-switchover'] } }, target: 'promoted', actions: { type: 'request', params: { type: 'promote' } } },
        ],
        // An operator says the cause is fixed: back to what the action that gave up was for, without
        // acting; the reconciler then repairs whatever pgpool still shows differently.
        CLEAR: [
          { guard: { type: 'gaveUpWas', params: { types: ['attach'] } }, target: 'up', actions: 'clearGaveUp' },
          { guard: { type: 'gaveUpWas', params: { types: ['promote', 'promote-switchover'] } }, target: 'promoted', actions: 'clearGaveUp' },
          { target: 'detached', actions: 'clearGaveUp' },
        ],
        // EFM's post-promotion is the authority on who is primary: refusing it would leave pgpool
        // without the primary EFM promoted, which stops writes. The only automatic way out.
        PROMOTE: { target: 'promoted', actions: [{ type: 'request', params: { type: 'promote' } }] },
      },
    },
  },
});

export type BackendMachine = typeof backendMachine;
export type BackendSnapshot = SnapshotFrom<BackendMachine>;

export function leafPathOf(snapshot: BackendSnapshot): LeafPath {
  const path = valueToPath(snapshot.value);
  if (!isLeafPath(path)) throw new MachineInvariantError(`backend machine is in unexpected state ${path}`);
  return path;
}
