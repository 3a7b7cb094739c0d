import { PcpError } from './pcp-error.ts';

/**
 * The watchdog cluster has no leader (or no quorum) right now. pgpool 4.3 accepts an attach,
 * detach or promote sent then, answers "Command Successful" and drops it ("canceled by other
 * pgpool"), so pcpflow waits for a leader instead of sending into the void.
 */
export class PcpNoLeaderError extends PcpError {
  readonly code = 'PCP_NO_WATCHDOG_LEADER';
  readonly retryable = true;
  constructor(endpoint: string, seen: string, options?: { cause?: unknown }) {
    super(
      `pgpool at ${endpoint} reports ${seen}: its watchdog cluster cannot carry out a failover request now (an election is under way, or too few pgpools are alive for quorum); waiting for a leader`,
      { ...options, endpoint },
    );
  }
}
