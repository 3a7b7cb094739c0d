import { PcpError } from './pcp-error.ts';

/**
 * A request refused on the client side because pgpool would misread it: a node id outside
 * [0, node count) (pgpool atoi()s garbage into node 0), an oversized frame, a too long user name.
 */
export class PcpInvalidRequestError extends PcpError {
  readonly code = 'PCP_INVALID_REQUEST';
  readonly retryable = false;
  override readonly exitCode = 2;
}
