import { WebhookAttemptEntity } from './entities/webhook-attempt.entity';
import { WebhookEndpointEventEntity } from './entities/webhook-endpoint-event.entity';
import { WebhookEndpointEntity } from './entities/webhook-endpoint.entity';
import { WebhookMessageEntity } from './entities/webhook-message.entity';

/** API representations (snake_case). An endpoint's view never holds a secret, sealed or not. */
export function endpointView(e: WebhookEndpointEntity) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    events: e.events,
    enabled: e.enabled,
    metadata: e.metadata,
    disabled_at: e.disabledAt,
    disabled_reason: e.disabledReason,
    failing_since: e.failingSince,
    /** While set and in the future, the secret before the last rotation signs too. */
    previous_secret_expires_at: e.previousSecretExpiresAt,
    created_at: e.createdAt,
    updated_at: e.updatedAt,
  };
}

export function endpointEventView(e: WebhookEndpointEventEntity) {
  return { id: e.id, endpoint_id: e.endpointId, type: e.type, details: e.details, created_at: e.createdAt };
}

/** A message; `id` is the `webhook-id` header of every attempt. `payload` is the body as sent (single reads only). */
export function messageView(m: WebhookMessageEntity, opts: { payload?: boolean } = {}) {
  return {
    id: m.id,
    endpoint_id: m.endpointId,
    event_id: m.eventId,
    event_type: m.eventType,
    status: m.status,
    attempts: m.attempts,
    next_attempt_at: m.nextAttemptAt,
    last_status_code: m.lastStatusCode,
    last_error: m.lastError,
    created_at: m.createdAt,
    delivered_at: m.deliveredAt,
    ...(opts.payload ? { payload: JSON.parse(m.body) as unknown } : {}),
  };
}

export function attemptView(a: WebhookAttemptEntity) {
  return {
    id: a.id,
    message_id: a.messageId,
    attempt_no: a.attemptNo,
    trigger: a.trigger,
    started_at: a.startedAt,
    status_code: a.statusCode,
    latency_ms: a.latencyMs,
    response_body: a.responseBody,
    error: a.error,
  };
}
