import { InvalidInputError } from '../contracts/errors.ts';

/** A scenario line that cannot be run: exit 2, naming the line. */
export class ScenarioError extends InvalidInputError {
  override readonly code = 'SCENARIO_INVALID';
}
