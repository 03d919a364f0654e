import { DomainError } from '../../common/errors/domain-error';
import { MediaErrorCode } from '../../common/errors/error-codes';

/** A refusal of captured media; the exception filter answers with its code. */
export class MediaError extends DomainError {
  constructor(code: MediaErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}
