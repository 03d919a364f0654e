import { DomainError } from '../../common/errors/domain-error';
import { ZoomRoomsErrorCode } from '../../common/errors/error-codes';

/** A refusal of Zoom Rooms dispatches; the exception filter answers with its code. */
export class ZoomRoomsError extends DomainError {
  constructor(code: ZoomRoomsErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}
