import { InvalidInputError } from '../contracts/errors.ts';

/** A console page's since/until that is not a time or a duration, or out of range: answered 400. */
export class TimeRangeError extends InvalidInputError {
  override readonly code = 'CONSOLE_RANGE_INVALID';
}

/** No such cluster, backend or page: answered 404. */
export class NotFoundError extends InvalidInputError {
  override readonly code = 'CONSOLE_NOT_FOUND';
}
