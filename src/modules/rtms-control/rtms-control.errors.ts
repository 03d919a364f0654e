import { DomainError } from '../../common/errors/domain-error';
import { RtmsControlErrorCode } from '../../common/errors/error-codes';

/** A refusal of RTMS control requests; the exception filter answers with its code. */
export class RtmsControlError extends DomainError {
  constructor(code: RtmsControlErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}
