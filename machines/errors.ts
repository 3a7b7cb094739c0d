import { InvalidInputError, PcpflowError } from '../contracts/errors.ts';

/** A programming error inside the decision core: an event reached a transition it cannot serve. */
export class MachineInvariantError extends PcpflowError {
  readonly code = 'MACHINE_INVARIANT';
}

/** A stored snapshot that does not decode: written by another version, or edited by hand. */
export class SnapshotDecodeError extends InvalidInputError {
  override readonly code = 'SNAPSHOT_INVALID';
}
