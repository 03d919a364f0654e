import { DomainErrorCode } from './error-codes';

/**
 * An error the hub's own rules raise (not HTTP's): a plain class with a code from the
 * catalogue in error-codes.ts. The exception filter maps the code to an HTTP status;
 * workers decide retries from the class or code, never from an HTTP response.
 */
export abstract class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    /** Extra fields for the API's `details` (never a secret). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
