import { PcpError } from './pcp-error.ts';

/** pgpool accepted the request but its effect did not show in node info before verifyMs. */
export class PcpVerifyTimeoutError extends PcpError {
  readonly code = 'PCP_VERIFY_TIMEOUT';
  readonly retryable = true;
  constructor(
    readonly nodeId: number,
    seen: string,
    waitingFor: string,
    readonly verifyMs: number,
    options?: { cause?: unknown; endpoint?: string },
  ) {
    super(
      `pgpool accepted the request but node ${nodeId} is still ${seen} after ${verifyMs} ms (waiting for ${waitingFor}); pgpool may be busy with a failover or paused after one, or its request queue (10 entries) was full`,
      options,
    );
  }
}
