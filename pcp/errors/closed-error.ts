import { PcpError } from './pcp-error.ts';

/** The server closed the connection before its reply was complete. */
export class PcpClosedError extends PcpError {
  readonly code = 'PCP_CLOSED';
  readonly retryable = true;
  constructor(endpoint: string, during: string, options?: { cause?: unknown }) {
    super(`PCP at ${endpoint} closed the connection during ${during}; pgpool may be restarting or its PCP worker died`, {
      ...options,
      endpoint,
    });
  }
}
