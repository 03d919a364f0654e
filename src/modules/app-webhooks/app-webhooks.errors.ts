import { DomainError } from '../../common/errors/domain-error';
import { AppWebhooksErrorCode } from '../../common/errors/error-codes';

/** A refusal of the webhook-endpoints API; the exception filter answers with its code. */
export class AppWebhooksError extends DomainError {
  constructor(code: AppWebhooksErrorCode, message: string, details?: Record<string, unknown>) {
    super(code, message, details);
  }
}

export class WebhookEndpointNotFoundError extends AppWebhooksError {
  constructor(id: string) {
    super(AppWebhooksErrorCode.EndpointNotFound, `Webhook endpoint ${id} does not exist`);
  }
}

export class WebhookMessageNotFoundError extends AppWebhooksError {
  constructor(id: string) {
    super(AppWebhooksErrorCode.MessageNotFound, `Webhook message ${id} does not exist`);
  }
}

/** Sending to a disabled endpoint (resend, recover, test): enable it first. */
export class WebhookEndpointDisabledError extends AppWebhooksError {
  constructor(id: string) {
    super(AppWebhooksErrorCode.EndpointDisabled, `Webhook endpoint ${id} is disabled; enable it (PATCH enabled: true) first`, { endpoint_id: id });
  }
}
