import { PcpError } from './pcp-error.ts';

/** No usable passfile line for host:port:user (missing file, wrong mode, no matching line). */
export class PcpPasswordNotFoundError extends PcpError {
  readonly code = 'PCP_NO_PASSWORD';
  readonly retryable = false;
  constructor(
    readonly key: string,
    readonly why: string,
    options?: { cause?: unknown; endpoint?: string },
  ) {
    super(`no PCP password for ${key}: ${why}`, options);
  }
}
