import { PcpError } from './pcp-error.ts';

/** pgpool refused the user name or password (it does not say which). */
export class PcpAuthError extends PcpError {
  readonly code = 'PCP_AUTH';
  /** A wrong password stays wrong until someone fixes pcp.conf or the passfile. */
  readonly retryable = false;
  constructor(
    endpoint: string,
    readonly user: string,
    readonly serverMessage: string,
    options?: { cause?: unknown },
  ) {
    super(
      `PCP at ${endpoint} refused user "${user}" (${serverMessage}); check that the passfile line for this host:port:user holds the password whose md5 is in pgpool's pcp.conf`,
      { ...options, endpoint },
    );
  }
}
