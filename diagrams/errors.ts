import { InvalidInputError } from '../contracts/errors.ts';

/** A history line (audit export or `simulate --json`) that is not a JSON object: exit 2, naming the line. */
export class HistoryParseError extends InvalidInputError {
  override readonly code = 'HISTORY_INVALID';
}
