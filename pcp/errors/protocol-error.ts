import { PcpError } from './pcp-error.ts';

/**
 * The bytes from the server do not follow the PCP protocol: bad length, unexpected frame type or
 * tag, truncated stream, unparsable fields. The connection is discarded; retrying is safe because
 * pgpool's node-info reply is known to desync occasionally (all released versions).
 */
export class PcpProtocolError extends PcpError {
  readonly code = 'PCP_PROTOCOL';
  readonly retryable = true;
  constructor(endpoint: string, what: string, options?: { cause?: unknown }) {
    super(`PCP at ${endpoint} sent an unexpected reply: ${what}; is this port really pgpool's pcp_port?`, {
      ...options,
      endpoint,
    });
  }
}
