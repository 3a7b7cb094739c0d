import { PcpError } from './pcp-error.ts';
import type { PcpServerMessage } from '../messages.ts';

/**
 * pgpool answered with an `E` frame. ERROR leaves the connection usable; FATAL and PANIC close it.
 * The fields are kept so callers can recognise known refusals (already down, already primary).
 */
export class PcpServerError extends PcpError {
  readonly code = 'PCP_SERVER';
  readonly retryable = true;
  constructor(
    endpoint: string,
    readonly report: PcpServerMessage,
    readonly request: string,
    options?: { cause?: unknown },
  ) {
    const detail = report.detail ? ` (${report.detail})` : '';
    super(`pgpool at ${endpoint} refused ${request}: ${report.severity}: ${report.message}${detail}`, { ...options, endpoint });
  }

  get fatal(): boolean {
    return this.report.severity === 'FATAL' || this.report.severity === 'PANIC';
  }
}
