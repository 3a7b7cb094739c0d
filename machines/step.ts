import { createActor, type ActionExecutor, type ActorScope, type ExecutableActionsFrom } from 'xstate';
import { backendMachine, type BackendMachine, type BackendSnapshot } from './backend-machine.ts';
import type { BackendEvent, BackendInput } from './backend-types.ts';

type Returned = ExecutableActionsFrom<BackendMachine>;

/**
 * XState's pure `transition()`, without its per-call actor. `transition()` builds a throw-away
 * actor for every call, whose constructor eagerly computes the machine's initial snapshot; without
 * input our context factory throws there, so each decision also built an Error with a stack trace
 * (together ~6% of a busy worker's CPU in a storm). The backend machine spawns no children and
 * registers no system ids, which is what the fresh scope per call protects against, so one inert
 * scope, made once with a valid input and never started, serves every call. As in `transition()`,
 * its action executor only collects the actions the transition returns; nothing is executed.
 */
let sink: Returned[] = [];
const inert = createActor(backendMachine, { input: { address: 'inert', origin: 'standby-attached' } });
const collect: ActionExecutor = (action) => {
  sink.push(action as Returned);
};
const scope: ActorScope<BackendSnapshot, BackendEvent> = {
  self: inert,
  id: '',
  sessionId: '',
  logger: () => {},
  defer: () => {},
  emit: () => {},
  system: inert.system,
  stopChild: () => {},
  actionExecutor: collect,
};

/** Same result as `transition(backendMachine, before, event)`: the next snapshot and the actions it returns. */
export function step(before: BackendSnapshot, event: BackendEvent): [BackendSnapshot, Returned[]] {
  const returned: Returned[] = [];
  sink = returned;
  try {
    return [backendMachine.transition(before, event, scope), returned];
  } finally {
    sink = [];
  }
}

/** Same result as `initialTransition(backendMachine, input)`'s snapshot, on the same inert scope. */
export function initial(input: BackendInput): BackendSnapshot {
  try {
    return backendMachine.getInitialSnapshot(scope, input);
  } finally {
    sink = [];
  }
}
