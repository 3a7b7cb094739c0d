import { PcpError } from './pcp-error.ts';

/** The caller's AbortSignal fired; the connection was closed at once. */
export class PcpAbortedError extends PcpError {
  readonly code = 'PCP_ABORTED';
  readonly retryable = true;
  constructor(what: string, options?: { cause?: unknown; endpoint?: string }) {
    super(`${what} was cancelled before it finished`, options);
  }
}
