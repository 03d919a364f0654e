import { DomainError } from '../../common/errors/domain-error';
import { DeletionLogErrorCode } from '../../common/errors/error-codes';

export class DeletionNotFoundError extends DomainError {
  constructor(id: string) {
    super(DeletionLogErrorCode.DeletionNotFound, `Deletion ${id} does not exist`);
  }
}
