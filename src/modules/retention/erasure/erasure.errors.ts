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
