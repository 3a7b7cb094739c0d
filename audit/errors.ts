import { PcpflowError } from '../contracts/errors.ts';

/** The audit chain could not be extended: Redis unreachable or the head kept moving. */
export class AuditWriteError extends PcpflowError {
  readonly code = 'AUDIT_WRITE_FAILED';
}
