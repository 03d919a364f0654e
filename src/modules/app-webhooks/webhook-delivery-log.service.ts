import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '../../common/errors/error-message';
import { decodeCursor } from '../../common/http/pagination';
import { AppEventType } from '../app-events';
import { attemptView, messageView } from './app-webhook.views';
import { WebhookEndpointDisabledError, WebhookEndpointNotFoundError, WebhookMessageNotFoundError } from './app-webhooks.errors';
import { ListWebhookMessagesQuery } from './dto/webhook-queries.dto';
import { assertKnownEventTypeFilter } from './endpoint-input';
import { WebhookAttemptTrigger } from './entities/webhook-attempt.entity';
import { WebhookEndpointEntity } from './entities/webhook-endpoint.entity';
import { WebhookMessageEntity } from './entities/webhook-message.entity';
import { WebhookAttemptQueue } from './delivery/webhook-attempt-queue';
import { envelope } from './fanout/app-event-fanout.service';
import { keysetToPage } from '../../common/http/keyset-page';
import { WebhookEndpointsRepository } from './repositories/webhook-endpoints.repository';
import { WebhookMessagesRepository } from './repositories/webhook-messages.repository';

/** At most this many failed messages are resent by one recover call (call again for more). */
export const RECOVER_MAX = 10_000;

export const PING_MESSAGE = 'This is a test event from RTMS Hub';

/**
 * The delivery log (messages and their attempts) and what an app can do with it: send a
 * test ping, resend one message, recover every failed message since a time. A manual
 * attempt is the same message (same `webhook-id`, same body) with a new attempt number.
 */
@Injectable()
export class WebhookDeliveryLogService {
  private readonly logger = new Logger(WebhookDeliveryLogService.name);

  constructor(
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly messages: WebhookMessagesRepository,
    private readonly attempts: WebhookAttemptQueue,
  ) {}

  async listMessages(endpointId: string, query: ListWebhookMessagesQuery) {
    if (query.event_type !== undefined) assertKnownEventTypeFilter(query.event_type);
    await this.endpoint(endpointId);
    const limit = query.limit ?? 20;
    const rows = await this.messages.findPage(endpointId, { status: query.status, eventType: query.event_type }, limit, decodeCursor(query.cursor));
    return keysetToPage(rows, limit, (m) => messageView(m));
  }

  async getMessage(id: string) {
    return messageView(await this.message(id), { payload: true });
  }

  async listAttempts(messageId: string) {
    await this.message(messageId);
    return { data: (await this.messages.findAttempts(messageId)).map(attemptView) };
  }

  /** A `ping` message for this endpoint only, its first attempt queued now. */
  async sendTest(endpointId: string) {
    const endpoint = await this.enabledEndpoint(endpointId);
    const id = randomUUID();
    const eventId = randomUUID();
    const body = envelope({
      id: eventId,
      type: AppEventType.Ping,
      createdAt: new Date(),
      data: { endpoint_id: endpoint.id, message: PING_MESSAGE, session_id: null, sequence: null },
    });
    await this.messages.createOne({ id, endpointId, eventId, eventType: AppEventType.Ping, body });
    await this.queueAttempt(id, 1, WebhookAttemptTrigger.Scheduled);
    return messageView(await this.message(id), { payload: true });
  }

  /** A new attempt of one message now (409 when its endpoint is disabled). */
  async resend(messageId: string) {
    const m = await this.message(messageId);
    await this.enabledEndpoint(m.endpointId);
    const attempt = await this.messages.makeDueNow(messageId);
    if (attempt === null) throw new WebhookMessageNotFoundError(messageId);
    await this.queueAttempt(messageId, attempt, WebhookAttemptTrigger.Resend);
    return messageView(await this.message(messageId), { payload: true });
  }

  /** Resends every failed message of the endpoint created at or after `since` (at most RECOVER_MAX). */
  async recover(endpointId: string, since: Date): Promise<{ resent: number }> {
    await this.enabledEndpoint(endpointId);
    // One read up front: a message that fails again during the loop is not picked up twice.
    const ids = await this.messages.findFailedSince(endpointId, since, RECOVER_MAX);
    let resent = 0;
    for (const id of ids) {
      const attempt = await this.messages.makeDueNow(id);
      if (attempt === null) continue;
      await this.queueAttempt(id, attempt, WebhookAttemptTrigger.Recover);
      resent++;
    }
    if (resent > 0) this.logger.log(`Webhook endpoint ${endpointId}: recovering ${resent} failed message(s) since ${since.toISOString()}`);
    return { resent };
  }

  /** Queues the attempt now; if Redis is unreachable the message stays due now and the sweeper queues it. */
  private async queueAttempt(messageId: string, attempt: number, trigger: WebhookAttemptTrigger): Promise<void> {
    try {
      await this.attempts.runNow({ messageId, attempt, trigger });
    } catch (err) {
      this.logger.warn(`Could not queue attempt ${attempt} of webhook message ${messageId} (the sweeper will): ${errorMessage(err)}`);
    }
  }

  private async endpoint(id: string): Promise<WebhookEndpointEntity> {
    const endpoint = await this.endpoints.findById(id);
    if (!endpoint) throw new WebhookEndpointNotFoundError(id);
    return endpoint;
  }

  private async enabledEndpoint(id: string): Promise<WebhookEndpointEntity> {
    const endpoint = await this.endpoint(id);
    if (!endpoint.enabled) throw new WebhookEndpointDisabledError(id);
    return endpoint;
  }

  private async message(id: string): Promise<WebhookMessageEntity> {
    const m = await this.messages.findById(id);
    if (!m) throw new WebhookMessageNotFoundError(id);
    return m;
  }
}
