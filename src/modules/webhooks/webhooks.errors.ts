import { DomainError } from '../../common/errors/domain-error';
import { WebhookErrorCode } from '../../common/errors/error-codes';

/** A refusal of the Zoom event intake; the webhook route answers with its code. */
export class WebhooksError extends DomainError {
  constructor(code: WebhookErrorCode, message: string) {
    super(code, message);
  }
}
