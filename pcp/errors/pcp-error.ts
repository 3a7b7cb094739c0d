import { PcpflowError } from '../../contracts/errors.ts';

/**
 * Base of every error the PCP client raises. `retryable` tells the executor whether trying the
 * same operation again later can succeed without a human changing something first.
 * `endpoint` names the pgpool (host:port or label) the error came from, when one is known.
 */
export abstract class PcpError extends PcpflowError {
  abstract readonly retryable: boolean;
  endpoint: string | undefined;

  constructor(message: string, options?: { cause?: unknown; endpoint?: string }) {
    super(message, options);
    this.endpoint = options?.endpoint;
  }
}
