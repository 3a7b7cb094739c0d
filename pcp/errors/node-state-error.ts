import { PcpError } from './pcp-error.ts';

/** pgpool's view of the node makes the request impossible as asked (unused slot, vanished node). */
export class PcpNodeStateError extends PcpError {
  readonly code = 'PCP_NODE_STATE';
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean, options?: { cause?: unknown; endpoint?: string }) {
    super(message, options);
    this.retryable = retryable;
  }
}
