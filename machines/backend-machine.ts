import { assign, enqueueActions, setup, type SnapshotFrom } from 'xstate';
import type { Action, ActionType } from '../contracts/actions.ts';
import {
  type ActionRef,
  type BackendContext,
  type BackendEvent,
  type BackendInput,
  type IssueAction,
  type Observed,
  type StateMeta,
} from './backend-types.ts';
import { MachineInvariantError } from './errors.ts';
import { isAttached } from '../contracts/pgpool-node.ts';

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
 *
 * Over 300 lines on purpose: one machine definition, its transitions and their reasons side by side.
 */


function refOf(event: BackendEvent): ActionRef {
  if ('ref' in event) return event.ref;
  throw new MachineInvariantError(`event ${event.type} cannot start a PCP action`);
}

const PRIMARY_STAYS = "it is pgpool's primary; an attach as standby waits for the post-promotion of the new primary";

const isUp = (o: Observed): boolean => isAttached(o.status);

const outcomeOf = (event: BackendEvent) => (event.type === 'OUTCOME' ? event : null);

export const backendMachine = setup({
  types: {
    context: {} as BackendContext,
    events: {} as BackendEvent,
    input: {} as BackendInput,
    meta: {} as StateMeta,
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
    /**
     * Starts a PCP action: recorded as pending (no second one until its outcome) and returned by
     * `transition()` as an `issue` action, which the router turns into a job.
     */
    request: enqueueActions<BackendContext, BackendEvent, { type: ActionType }, BackendEvent, never, IssueAction, never>(({ context, event, enqueue }, params) => {
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
      enqueue.assign({ pending: action, gaveUp: null });
      enqueue({ type: 'issue', params: action });
    }),
    /** The PCP action a transition requests; returned by transition(), never executed here. */
    issue: (_args, _params: Action) => {},
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
  meta: {
    inFlight: '{pending} is still in flight for it; no second action until its outcome arrives',
    lateOutcome: 'no action {actionId} is in flight for it (a late or repeated outcome)',
    unhandled: {
      DRIFT: 'pgpool shows it {observed}, as the machine expects ({expected} in {path}); nothing to repair',
      'DRIFT.unexpected':
        "pgpool shows it {observed}, the machine expects {expected} ({path}); no action on this backend itself: the cluster's repair is in the other entries of this decision",
      // Answered by the states that keep a backend out (the others act on it or are busy).
      FOLLOW_PRIMARY: 'a failed or former primary stays out of pgpool until EFM attaches it (efm resume)',
      REBUILD_DONE: 'it is not being rebuilt',
      RETRY: 'it is not in attention',
      CLEAR: 'it is not in attention',
      STREAMING: 'it is not waiting to stream from a new primary',
      AWAIT_STREAM: 'it is not waiting to stream from a new primary',
      STEP_ASIDE: 'it is not in load balancing',
      '*': '{event} does not apply in state {path}',
    },
  },
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
      meta: {
        unhandled: {
          ATTACH: 'already attached and load balanced',
          ATTACH_FOLLOWING: 'already attached, or already waiting until it streams from the new primary',
        },
      },
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
          meta: { unhandled: { STEP_ASIDE: 'already out of load balancing until it streams from the new primary ({path})' } },
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
      meta: {
        unhandled: { DETACH: 'already detached' },
      },
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
      meta: {
        unhandled: {
          ATTACH: PRIMARY_STAYS,
          ATTACH_FOLLOWING: PRIMARY_STAYS,
          PROMOTE: "already pgpool's primary",
          FOLLOW_PRIMARY: 'pgpool reports as down the backend pcpflow expects as primary; the reconciler repairs that drift',
          REBUILD_STARTED: "it is pgpool's primary; rebuilding it would stop writes, so pcpflow does not detach it",
        },
      },
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
      meta: {
        unhandled: {
          DETACH: 'already kept out while it is rebuilt',
          FAILED_PRIMARY: 'already out of pgpool and waiting for its rebuild',
        },
      },
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
        inProgress: { meta: { unhandled: { REBUILD_STARTED: 'already being rebuilt and kept out of pgpool' } } },
        done: { meta: { unhandled: { REBUILD_DONE: 'its rebuild is already done; it stays out until EFM attaches it' } } },
      },
    },
    attention: {
      meta: { unhandled: { '*': 'it needs attention since {gaveUp}; only an outcome, a drift report or an operator event moves it' } },
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
