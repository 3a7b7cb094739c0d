import { PcpflowError } from '../contracts/errors.ts';

/** A source could not be asked (connection refused, permission denied, bad credentials). */
export class StreamProbeError extends PcpflowError {
  readonly code = 'STREAM_PROBE_FAILED';
}
