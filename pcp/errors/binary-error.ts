import { PcpError } from './pcp-error.ts';

/** A pcp_* binary is missing, was killed, or printed something the driver does not understand. */
export class PcpBinaryError extends PcpError {
  readonly code = 'PCP_BINARY';
  readonly retryable = true;
  constructor(
    readonly binary: string,
    what: string,
    options?: { cause?: unknown; endpoint?: string },
  ) {
    super(`${binary}: ${what}; check pcp.binDir in the config or use driver: native`, options);
  }
}
