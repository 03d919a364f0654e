import { DomainError } from '../../common/errors/domain-error';
import { OAuthErrorCode } from '../../common/errors/error-codes';

/** A refusal of the OAuth flow; the exception filter answers with its code. */
export class OAuthError extends DomainError {
  constructor(code: OAuthErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}
