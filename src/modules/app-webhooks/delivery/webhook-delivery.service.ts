import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { Counter, Histogram } from 'prom-client';
import { DataSource } from 'typeorm';
import { errorMessage } from '../../../common/errors/error-message';
import { TokenDecryptionError } from '../../../common/crypto/token-cipher';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { AppConfig, AppWebhooksConfig } from '../../../config/app.config';
import { JobName } from '../../../jobs/job-names';
import { JobProducer } from '../../../jobs/job-producer.service';
import { WebhookAttemptTrigger } from '../entities/webhook-attempt.entity';
import { WebhookMessageStatus } from '../entities/webhook-message.entity';
import { WebhookEndpointsRepository } from '../repositories/webhook-endpoints.repository';
import { DeliverableMessage, RecordedAttempt, WebhookMessagesRepository } from '../repositories/webhook-messages.repository';
import { EndpointInFlight } from './endpoint-in-flight';
import { EndpointSecrets } from './endpoint-secrets';
import { delayBeforeAttempt, longestRetryWaitMs } from './retry-schedule';
import { SendResult, WebhookHttpSender } from './webhook-http.sender';
import { signatureHeader } from './webhook-signature';

export type DeliveryOutcome = 'succeeded' | 'retrying' | 'failed' | 'gone' | 'stale' | 'endpoint_disabled';

/** Slack on top of the longest retry wait and the timeout before a failure starts a new failing run (queue lag). */
const FAILING_RUN_SLACK_MS = 5 * 60_000;
/** The most of a job's error kept in last_error. */
const JOB_ERROR_MAX_CHARS = 500;
/** A deferred message's due time is moved along when it is this far behind (well inside the sweeper's 30 s). */
const POSTPONE_AFTER_MS = 10_000;
/** Retry-After is honoured up to the schedule's longest wait, and never capped below this. */
const MIN_RETRY_AFTER_CAP_MS = 60_000;

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
  /** Failures further apart than this are not one failing run of the endpoint. */
  private readonly failingRunGapMs: number;
  /** The longest Retry-After honoured: the schedule's longest wait, at least a minute. */
  private readonly maxRetryAfterMs: number;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly messages: WebhookMessagesRepository,
    private readonly endpoints: WebhookEndpointsRepository,
    private readonly secrets: EndpointSecrets,
    private readonly sender: WebhookHttpSender,
    private readonly producer: JobProducer,
    private readonly inFlight: EndpointInFlight,
    config: ConfigService<AppConfig, true>,
    metrics: MetricsService,
  ) {
    this.config = config.get('appWebhooks', { infer: true });
    this.failingRunGapMs = longestRetryWaitMs(this.config.retryScheduleSec) + this.config.timeoutMs + FAILING_RUN_SLACK_MS;
    this.maxRetryAfterMs = Math.max(longestRetryWaitMs(this.config.retryScheduleSec), MIN_RETRY_AFTER_CAP_MS);
    this.outcomes = metrics.counter({
      name: 'rtms_hub_app_webhook_deliveries_total',
      help: 'Webhook delivery attempts to apps by outcome (succeeded, retrying, failed, gone, stale, endpoint_disabled; deferred, paused: sent back to wait for a slot of the endpoint or its Retry-After)',
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

  /**
   * Makes attempt `attemptNo` of the message. With `defer` (the job's way back to the
   * queue without using an attempt), it first takes a slot of the endpoint's in-flight
   * cap: when the endpoint is full (WEBHOOK_ENDPOINT_MAX_IN_FLIGHT) or paused by its 429,
   * nothing is sent and the job comes back later through `defer`.
   */
  async deliver(
    messageId: string,
    attemptNo: number,
    trigger: WebhookAttemptTrigger = WebhookAttemptTrigger.Scheduled,
    opts: { defer?: (at: number) => Promise<never> } = {},
  ): Promise<DeliveryOutcome> {
    const m = await this.messages.findDeliverable(messageId);
    // Deleted, or another attempt already ran (a stale job): nothing to do.
    if (!m || m.attempts !== attemptNo - 1 || m.status !== WebhookMessageStatus.Pending) return this.count('stale');
    if (!m.enabled) {
      await this.messages.failWithoutAttempt(m.id, 'endpoint disabled');
      return this.count('endpoint_disabled');
    }

    let release = async (): Promise<void> => undefined;
    if (opts.defer) {
      const slot = await this.inFlight.acquire(m.endpointId);
      if (!slot.taken) return this.deferred(m, attemptNo, slot.retryAt, slot.paused, opts.defer);
      release = slot.release;
    }
    const startedAt = new Date();
    if (m.dueAt) this.lag.observe(Math.max(0, startedAt.getTime() - m.dueAt.getTime()) / 1000);
    const timestamp = Math.floor(startedAt.getTime() / 1000);
    let signature: string;
    try {
      signature = signatureHeader(this.secrets.signingSecrets(m, startedAt), m.id, timestamp, m.body);
    } catch (err) {
      // Nothing is sent unsigned. A failed attempt like any other (retried on the schedule,
      // then failed; the endpoint counts as failing): thrown, it failed the job for good and
      // left the message pending at the same due time, queued again by the sweeper forever.
      await release();
      const error = unsignable(err);
      this.logger.warn(`Webhook message ${m.id} to endpoint ${m.endpointId}: ${error}`);
      return this.failed(m, attemptNo, trigger, startedAt, { statusCode: null, responseBody: null, latencyMs: 0, error });
    }
    let result: SendResult;
    try {
      result = await this.sender.send({
        url: m.url,
        body: m.body,
        timeoutMs: this.config.timeoutMs,
        allowPrivate: this.config.allowPrivateUrls,
        headers: {
          'webhook-id': m.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signature,
          'user-agent': 'rtms-hub-webhooks/1',
        },
      });
    } finally {
      // The exchange is over: the slot goes to the next attempt before this one is written.
      await release();
    }
    const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    this.latency.observe({ result: ok ? 'ok' : result.statusCode === null ? 'no_answer' : 'error' }, result.latencyMs / 1000);
    return ok ? this.succeeded(m, attemptNo, trigger, startedAt, result) : this.failed(m, attemptNo, trigger, startedAt, result);
  }

  /**
   * The endpoint is full or paused: the job goes back to wait until `retryAt`, its attempt
   * unused. The message's due time moves along now and then, so that the sweeper does not
   * take a message that waits on purpose for one whose job was lost.
   */
  private async deferred(m: DeliverableMessage, attemptNo: number, retryAt: number, paused: boolean, defer: (at: number) => Promise<never>): Promise<never> {
    if (!m.dueAt || Date.now() - m.dueAt.getTime() > POSTPONE_AFTER_MS || retryAt - Date.now() > POSTPONE_AFTER_MS) {
      await this.messages.postpone(m.id, attemptNo, new Date(retryAt));
    }
    this.outcomes.inc({ outcome: paused ? 'paused' : 'deferred' });
    return defer(retryAt);
  }

  /**
   * The job of an attempt failed for good (it threw through every BullMQ retry: Postgres
   * down longer than them, a bug). The attempt is recorded as failed, with nothing sent
   * counted against the endpoint, and the message moves on: its next attempt on the
   * schedule, or `failed` when the schedule is used up. Left pending at the same due time,
   * the sweeper would queue the same failing job again and again. Nothing to do when the
   * attempt was recorded after all, or the message is gone or no longer pending.
   */
  async attemptJobFailed(messageId: string, attemptNo: number, trigger: WebhookAttemptTrigger, err: Error): Promise<DeliveryOutcome> {
    const m = await this.messages.findDeliverable(messageId);
    if (!m || m.attempts !== attemptNo - 1 || m.status !== WebhookMessageStatus.Pending) return this.count('stale');
    const reason = errorMessage(err).slice(0, JOB_ERROR_MAX_CHARS);
    return this.failed(m, attemptNo, trigger, new Date(), { statusCode: null, responseBody: null, latencyMs: 0, error: `the delivery job failed: ${reason}` }, false);
  }

  private async succeeded(m: DeliverableMessage, attemptNo: number, trigger: WebhookAttemptTrigger, startedAt: Date, r: SendResult): Promise<DeliveryOutcome> {
    const recorded = await this.record(m, attemptNo, trigger, startedAt, r, WebhookMessageStatus.Succeeded, null);
    if (!recorded) return this.count('stale');
    // Failing when the attempt was written (another message may have failed since this one was loaded).
    if (recorded.endpointFailing) await this.endpoints.markHealthy(m.endpointId);
    this.eventToDelivery.observe((Date.now() - m.createdAt.getTime()) / 1000);
    return this.count('succeeded');
  }

  /**
   * A failed attempt: on to the next one on the schedule, or `failed`. `endpointAtFault`
   * false (the hub could not make the attempt) leaves the endpoint's health alone.
   */
  private async failed(
    m: DeliverableMessage,
    attemptNo: number,
    trigger: WebhookAttemptTrigger,
    startedAt: Date,
    r: SendResult,
    endpointAtFault = true,
  ): Promise<DeliveryOutcome> {
    if (r.statusCode === 410) {
      // The app says this endpoint is gone for good: stop sending there at once.
      await this.record(m, attemptNo, trigger, startedAt, r, WebhookMessageStatus.Failed, null);
      await this.disable(m.endpointId, 'the endpoint answered 410 Gone', { message_id: m.id });
      return this.count('gone');
    }
    let delay = delayBeforeAttempt(this.config.retryScheduleSec, attemptNo + 1);
    // A 429 with Retry-After: not this message again, nor any other to the endpoint, before then (capped).
    const retryAfterMs = r.statusCode === 429 && r.retryAfterMs !== undefined ? Math.min(r.retryAfterMs, this.maxRetryAfterMs) : 0;
    if (delay !== null) delay = Math.max(delay, retryAfterMs);
    const next = delay === null ? null : new Date(Date.now() + delay);
    const recorded = await this.record(m, attemptNo, trigger, startedAt, r, next ? WebhookMessageStatus.Pending : WebhookMessageStatus.Failed, next);
    if (!recorded) return this.count('stale');
    if (retryAfterMs > 0) {
      await this.inFlight.pause(m.endpointId, retryAfterMs).catch((err: unknown) => this.logger.warn(`Could not pause endpoint ${m.endpointId} for its Retry-After: ${errorMessage(err)}`));
    }

    const failingSince = endpointAtFault ? await this.endpoints.markFailing(m.endpointId, this.failingRunGapMs) : null;
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
  ): Promise<RecordedAttempt | null> {
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

/**
 * Why a request could not be signed, for last_error and the log. Never a secret: a
 * TokenDecryptionError says which key or check failed; of anything else only its name.
 */
function unsignable(err: unknown): string {
  const why = err instanceof TokenDecryptionError ? err.message : err instanceof Error ? err.name : 'unknown error';
  return `not sent: the endpoint's signing secret could not be used (${why})`;
}
