import { InvalidInputError, PcpflowError } from '../contracts/errors.ts';

/** A hook invocation that can never succeed (bad argv or flags): exit 2, nothing published. */
export class HookArgvError extends InvalidInputError {
  override readonly code = 'HOOK_ARGV';
}

/** The config the hook was pointed at is missing, unreadable or invalid, or names no such cluster. */
export class HookConfigError extends InvalidInputError {
  override readonly code = 'HOOK_CONFIG';
}

/** Redis did not answer in time or refused us; the caller spools (hook) or reports (flush). */
export class RedisUnavailableError extends PcpflowError {
  readonly code = 'REDIS_UNAVAILABLE';
}

/** The local outbox could not take the event: the one case where an event may be lost. */
export class OutboxWriteError extends PcpflowError {
  readonly code = 'OUTBOX_WRITE';
}

/** The outbox directory itself is unreadable by this OS user: nothing in it can be delivered by us. */
export class OutboxReadError extends PcpflowError {
  readonly code = 'OUTBOX_READ';
}


/** Why an outbox entry cannot be delivered as it is; the text goes into its `.reason` file. */
export class UnreadableEntryError extends PcpflowError {
  readonly code = 'OUTBOX_ENTRY_UNREADABLE';
}
