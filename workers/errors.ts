import { PcpflowError } from '../contracts/errors.ts';

/**
 * Another decider committed first, or the audit head kept moving under this one's commits. Not a
 * failure: the drain stops and the next pass decides from what was committed.
 */
export class DeciderConflictError extends PcpflowError {
  readonly code = 'DECIDER_CONFLICT';
}
