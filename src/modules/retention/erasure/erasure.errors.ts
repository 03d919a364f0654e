import { DomainError } from '../../../common/errors/domain-error';
import { ErasureErrorCode } from '../../../common/errors/error-codes';

export class ErasureNotFoundError extends DomainError {
  constructor(id: string) {
    super(ErasureErrorCode.ErasureNotFound, `Erasure ${id} does not exist`);
  }
}

/** The request does not name exactly one well-formed subject (400). */
export class InvalidErasureSubjectError extends DomainError {
  constructor(message: string) {
    super(ErasureErrorCode.InvalidErasureSubject, message);
  }
}

/** The erasure's job could not be queued (503): recorded as failed, nothing erased; ask again. */
export class ErasureQueueUnavailableError extends DomainError {
  constructor() {
    super(ErasureErrorCode.ErasureQueueUnavailable, 'The erasure could not be queued; nothing was erased. Try again');
  }
}
