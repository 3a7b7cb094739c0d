import { PcpError } from './pcp-error.ts';

/** A request this pgpool version cannot serve safely (switchover before 4.3, for instance). */
export class PcpUnsupportedError extends PcpError {
  readonly code = 'PCP_UNSUPPORTED';
  readonly retryable = false;
  override readonly exitCode = 2;
}
