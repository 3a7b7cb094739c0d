import type { ExecutableActionsFrom } from 'xstate';
import type { Action } from '../contracts/actions.ts';
import type { BackendMachine } from './backend-machine.ts';
import { type IssueAction } from './backend-types.ts';
import { MachineInvariantError } from './errors.ts';

/**
 * What the router takes from XState's pure `transition()`: the returned actions are data (the PCP
 * action a transition requests, its audit notes), never executed inside the decision core.
 */

/** What one transition asks for: the PCP action it requests (at most one) and its audit notes. */
export interface Effects {
  requested: Action | null;
  notes: string[];
}

type Returned = ExecutableActionsFrom<BackendMachine>;

// XState types a returned action's params as the union over all actions, not per type, so the
// type is checked here once: `issue` and `note` carry what setup() declares for them.
const isIssue = (a: Returned): a is Returned & IssueAction => a.type === 'issue';
const isNote = (a: Returned): a is Returned & { type: 'note'; params: { text: string } } => a.type === 'note';

/** Reads the actions `transition()` returned; they are data for the router, never executed. */
export function effectsOf(returned: readonly Returned[]): Effects {
  const effects: Effects = { requested: null, notes: [] };
  for (const a of returned) {
    if (isIssue(a)) {
      if (effects.requested !== null) throw new MachineInvariantError(`one transition requested both ${effects.requested.actionId} and ${a.params.actionId}`);
      effects.requested = a.params;
    } else if (isNote(a)) effects.notes.push(a.params.text);
  }
  return effects;
}
