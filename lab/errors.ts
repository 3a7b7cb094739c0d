import { PcpflowError } from '../contracts/errors.ts';

/** Something the lab could not do; the message names the step and where its log is. */
export class LabError extends PcpflowError {
  readonly code: string = 'LAB_FAILED';
}

/** A program the lab runs (initdb, pg_ctl, pgpool...) failed; carries the tail of its stderr. */
export class LabCommandError extends LabError {
  override readonly code: string = 'LAB_COMMAND_FAILED';
}

/** A condition the lab polls for (a port answering, a standby streaming) did not hold in time. */
export class LabTimeoutError extends LabError {
  override readonly code: string = 'LAB_TIMEOUT';
}

/** An address, port or directory the lab needs belongs to someone else. */
export class LabConflictError extends LabError {
  override readonly code: string = 'LAB_CONFLICT';
}

/** No lab (no state file) where one was expected. */
export class LabNotFoundError extends LabError {
  override readonly code: string = 'LAB_NOT_FOUND';
}
