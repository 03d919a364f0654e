import { DomainError } from '../../common/errors/domain-error';
import { SessionErrorCode } from '../../common/errors/error-codes';
import { SessionStatus } from './entities/session.entity';

/** A refusal of the sessions module with no class of its own (e.g. metadata too large). */
export class SessionError extends DomainError {
  constructor(code: SessionErrorCode, message: string) {
    super(code, message);
  }
}

export class SessionNotFoundError extends DomainError {
  constructor(id: string) {
    super(SessionErrorCode.SessionNotFound, `Session ${id} does not exist`);
  }
}

/** A status change the state machine does not allow (409 on the API). */
export class IllegalTransitionError extends DomainError {
  constructor(
    readonly from: SessionStatus,
    readonly to: SessionStatus,
  ) {
    super(SessionErrorCode.IllegalTransition, `Session cannot move from ${from} to ${to}`);
  }
}

/** A held session cannot be deleted (409): release the hold first. */
export class SessionOnLegalHoldError extends DomainError {
  constructor(id: string) {
    super(SessionErrorCode.SessionOnLegalHold, `Session ${id} is under legal hold; release the hold before deleting it`);
  }
}
