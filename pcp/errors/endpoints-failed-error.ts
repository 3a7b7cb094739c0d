import { PcpError } from './pcp-error.ts';

/** Every configured PCP endpoint failed; `failures` holds each endpoint's own error in order. */
export class PcpEndpointsFailedError extends PcpError {
  readonly code = 'PCP_ENDPOINTS_FAILED';
  readonly retryable: boolean;
  constructor(readonly failures: readonly PcpError[]) {
    super(`no PCP endpoint answered: ${failures.map((f) => f.message).join('; ')}`, {
      cause: new AggregateError(failures),
    });
    this.retryable = failures.some((f) => f.retryable);
  }
}
