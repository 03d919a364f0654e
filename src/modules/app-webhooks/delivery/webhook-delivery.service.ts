import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { Counter, Histogram } from 'prom-client';
import { DataSource } from 'typeorm';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { AppConfig, AppWebhooksConfig } from '../../../config/app.config';
import { JobName } from '../../../jobs/job-names';
import { JobProducer } from '../../../jobs/job-producer.service';
import { WebhookAttemptTrigger } from '../entities/webhook-attempt.entity';
import { WebhookMessageStatus } from '../entities/webhook-message.entity';
import { WebhookEndpointsRepository } from '../repositories/webhook-endpoints.repository';
import { DeliverableMessage, WebhookMessagesRepository } from '../repositories/webhook-messages.repository';
import { EndpointSecrets } from './endpoint-secrets';
import { delayBeforeAttempt } from './retry-schedule';
import { SendResult, WebhookHttpSender } from './webhook-http.sender';
import { signatureHeader } from './webhook-signature';

export type DeliveryOutcome = 'succeeded' | 'retrying' | 'failed' | 'gone' | 'stale' | 'endpoint_disabled';

/**
 * One attempt of one message: sign (Standard Webhooks), POST, log the attempt, then
 * decide — 2xx done; 410 Gone disables the endpoint; anything else retries on the
 * schedule until it runs out. An endpoint failing for WEBHOOK_DISABLE_AFTER_HOURS is
 * disabled. Every attempt of a message carries the message id as `webhook-id`.
 */
@Injectable()
export class WebhookDeliveryService {
  private readonly logger = new Logger(WebhookDeliveryService.name);
  private readonly config: AppWebhooksConfig;
  private readonly outcomes: Counter<'outcome'>;
  private readonly latency: Histogram<'result'>;
  private readonly eventToDelivery: Histogram;
  private readonly lag: Histogram;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly messages: WebhookMessagesRepository,
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly secrets: EndpointSecrets,
    private readonly sender: WebhookHttpSender,
    private readonly producer: JobProducer,
    config: ConfigService<AppConfig, true>,
    metrics: MetricsService,
  ) {
    this.config = config.get('appWebhooks', { infer: true });
    this.outcomes = metrics.counter({
      name: 'rtms_hub_app_webhook_deliveries_total',
      help: 'Webhook delivery attempts to apps by outcome (succeeded, retrying, failed, gone, stale, endpoint_disabled)',
      labelNames: ['outcome'],
    });
    this.latency = metrics.histogram({
      name: 'rtms_hub_app_webhook_attempt_seconds',
      help: 'Duration of one webhook attempt (until the answer, a refusal or the timeout)',
      labelNames: ['result'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15],
    });
    this.lag = metrics.histogram({
      name: 'rtms_hub_app_webhook_attempt_lag_seconds',
      help: 'How late an attempt started after it was due (queue lag: a backlog or a slow worker shows here)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300],
    });
    this.eventToDelivery = metrics.histogram({
      name: 'rtms_hub_app_webhook_event_to_delivery_seconds',
      help: 'From a message being created to its successful delivery',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 300, 3600],
    });
  }

  async deliver(messageId: string, attemptNo: number, trigger: WebhookAttemptTrigger = WebhookAttemptTrigger.Scheduled): Promise<DeliveryOutcome> {
    const m = await this.messages.findDeliverable(messageId);
    // Deleted, or another attempt already ran (a stale job): nothing to do.
    if (!m || m.attempts !== attemptNo - 1 || m.status !== WebhookMessageStatus.Pending) return this.count('stale');
    if (!m.enabled) {
      await this.messages.failWithoutAttempt(m.id, 'endpoint disabled');
      return this.count('endpoint_disabled');
    }

    const startedAt = new Date();
    if (m.dueAt) this.lag.observe(Math.max(0, startedAt.getTime() - m.dueAt.getTime()) / 1000);
    const timestamp = Math.floor(startedAt.getTime() / 1000);
    const result = await this.sender.send({
      url: m.url,
      body: m.body,
      timeoutMs: this.config.timeoutMs,
      allowPrivate: this.config.allowPrivateUrls,
      headers: {
        'webhook-id': m.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(this.secrets.signingSecrets(m, startedAt), m.id, timestamp, m.body),
        'user-agent': 'rtms-hub-webhooks/1',
      },
    });
    const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    this.latency.observe({ result: ok ? 'ok' : result.statusCode === null ? 'no_answer' : 'error' }, result.latencyMs / 1000);
    return ok ? this.succeeded(m, attemptNo, trigger, startedAt, result) : this.failed(m, attemptNo, trigger, startedAt, result);
  }

  private async succeeded(m: DeliverableMessage, attemptNo: number, trigger: WebhookAttemptTrigger, startedAt: Date, r: SendResult): Promise<DeliveryOutcome> {
    const recorded = await this.record(m, attemptNo, trigger, startedAt, r, WebhookMessageStatus.Succeeded, null);
    if (!recorded) return this.count('stale');
    if (m.failingSince) await this.endpoints.markHealthy(m.endpointId);
    this.eventToDelivery.observe((Date.now() - m.createdAt.getTime()) / 1000);
    return this.count('succeeded');
  }

  private async failed(m: DeliverableMessage, attemptNo: number, trigger: WebhookAttemptTrigger, startedAt: Date, r: SendResult): Promise<DeliveryOutcome> {
    if (r.statusCode === 410) {
      // The app says this endpoint is gone for good: stop sending there at once.
      await this.record(m, attemptNo, trigger, startedAt, r, WebhookMessageStatus.Failed, null);
      await this.disable(m.endpointId, 'the endpoint answered 410 Gone', { message_id: m.id });
      return this.count('gone');
    }
    const delay = delayBeforeAttempt(this.config.retryScheduleSec, attemptNo + 1);
    const next = delay === null ? null : new Date(Date.now() + delay);
    const recorded = await this.record(m, attemptNo, trigger, startedAt, r, next ? WebhookMessageStatus.Pending : WebhookMessageStatus.Failed, next);
    if (!recorded) return this.count('stale');

    const failingSince = await this.endpoints.markFailing(m.endpointId);
    if (failingSince && Date.now() - failingSince.getTime() >= this.config.disableAfterMs) {
      await this.disable(m.endpointId, `every delivery failed since ${failingSince.toISOString()}`, { failing_since: failingSince.toISOString() });
      return this.count('failed');
    }
    if (!next) {
      this.logger.warn(`Webhook message ${m.id} (${m.eventType}) failed after ${attemptNo} attempt(s): ${describe(r)}`);
      return this.count('failed');
    }
    // Queued after the row says when: if this enqueue is lost, the sweeper finds the message overdue.
    await this.producer.enqueue(JobName.WebhookDeliver, { messageId: m.id, attempt: attemptNo + 1 }, { delay: delay ?? 0 });
    return this.count('retrying');
  }

  private record(
    m: DeliverableMessage,
    attemptNo: number,
    trigger: WebhookAttemptTrigger,
    startedAt: Date,
    r: SendResult,
    status: WebhookMessageStatus,
    nextAttemptAt: Date | null,
  ): Promise<boolean> {
    return this.messages.recordAttempt({
      attemptId: randomUUID(),
      messageId: m.id,
      attemptNo,
      trigger,
      startedAt,
      statusCode: r.statusCode,
      latencyMs: r.latencyMs,
      responseBody: r.responseBody,
      error: r.error ?? (r.statusCode !== null && (r.statusCode < 200 || r.statusCode >= 300) ? `HTTP ${r.statusCode}` : null),
      status,
      nextAttemptAt,
    });
  }

  /**
   * Disables the endpoint and fails its pending messages in one transaction: nobody sees
   * (and no crash leaves) a disabled endpoint with messages still waiting to be sent.
   */
  private async disable(endpointId: string, reason: string, details: Record<string, unknown>): Promise<void> {
    const closed = await this.db.transaction(async (em) =>
      (await this.endpoints.disable(endpointId, reason, details, em)) ? this.messages.failPendingOfEndpoint(endpointId, 'endpoint disabled', em) : null,
    );
    if (closed === null) return;
    this.logger.warn(`Webhook endpoint ${endpointId} disabled: ${reason} (${closed} pending message(s) failed)`);
  }

  private count(outcome: DeliveryOutcome): DeliveryOutcome {
    this.outcomes.inc({ outcome });
    return outcome;
  }
}

function describe(r: SendResult): string {
  return r.error ?? `HTTP ${r.statusCode}`;
}
