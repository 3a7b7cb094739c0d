import { PcpError } from './pcp-error.ts';

/** A host without a port matches several pgpool backends. */
export class PcpAmbiguousAddressError extends PcpError {
  readonly code = 'PCP_AMBIGUOUS_ADDRESS';
  readonly retryable = false;
  override readonly exitCode = 2;
  constructor(
    readonly address: string,
    readonly nodeIds: readonly number[],
    options?: { cause?: unknown; endpoint?: string },
  ) {
    super(
      `address ${address} matches pgpool nodes ${nodeIds.join(', ')}; give host:port, or pin nodeId for this backend in the config`,
      options,
    );
  }
}
