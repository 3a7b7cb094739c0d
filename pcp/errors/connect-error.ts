import { PcpError } from './pcp-error.ts';

/** The TCP connection to the PCP port could not be made (refused, unreachable, DNS). */
export class PcpConnectError extends PcpError {
  readonly code = 'PCP_CONNECT';
  readonly retryable = true;
  constructor(
    endpoint: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `cannot connect to PCP at ${endpoint} (${reason}); check that pgpool is running and that pcp_listen_addresses/pcp_port match the config`,
      { ...options, endpoint },
    );
  }
}
