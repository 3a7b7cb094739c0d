import { PcpError } from './pcp-error.ts';

export type PcpPhase = 'connect' | 'salt' | 'auth' | 'reply' | 'command' | 'call';

const HINT: Record<PcpPhase, string> = {
  connect: 'the host may be down or a firewall drops packets',
  salt: 'pgpool accepted the connection but its PCP process did not answer; it restarts PCP for about 1 s after every failover, or it may be wedged by another open PCP connection',
  auth: 'pgpool did not answer the password; it may be restarting its PCP process',
  reply: 'pgpool did not answer the command in time; node info can be slow when a backend host is unreachable (connect_timeout per backend)',
  command: 'the pcp_* binary did not finish in time',
  call: 'the call has one deadline for every endpoint, connect, reply frame and notice; pgpool trickled its answer (frames or notices spaced out) or every endpoint was slow',
};

const WHAT: Record<PcpPhase, string> = {
  connect: 'connection',
  salt: 'salt',
  auth: 'auth',
  reply: 'complete reply',
  command: 'command',
  call: 'complete answer to the call',
};

/** A deadline passed: connect, the salt, the auth reply, a command's whole reply, or the whole call. */
export class PcpTimeoutError extends PcpError {
  readonly code = 'PCP_TIMEOUT';
  readonly retryable = true;
  constructor(
    endpoint: string,
    readonly phase: PcpPhase,
    readonly timeoutMs: number,
    options?: { cause?: unknown },
  ) {
    super(`PCP at ${endpoint}: no ${WHAT[phase]} within ${timeoutMs} ms; ${HINT[phase]}`, {
      ...options,
      endpoint,
    });
  }
}
