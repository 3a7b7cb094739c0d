import { PcpError } from './pcp-error.ts';

/** No pgpool backend has this address, so there is no node id to act on. */
export class PcpUnknownAddressError extends PcpError {
  readonly code = 'PCP_UNKNOWN_ADDRESS';
  readonly retryable = false;
  override readonly exitCode = 3;
  constructor(
    readonly address: string,
    known: readonly string[],
    options?: { cause?: unknown; endpoint?: string },
  ) {
    super(
      `no pgpool backend has address ${address} (pgpool knows: ${known.length ? known.join(', ') : 'none'}); fix the address, or pin nodeId for this backend in the config`,
      options,
    );
  }
}
