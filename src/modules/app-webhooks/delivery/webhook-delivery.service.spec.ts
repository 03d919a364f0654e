import type { ConfigService } from '@nestjs/config';
import type { DataSource } from 'typeorm';
import { TokenDecryptionError } from '../../../common/crypto/token-cipher';
import type { MetricsService } from '../../../common/metrics/metrics.service';
import type { AppConfig, AppWebhooksConfig } from '../../../config/app.config';
import { JobName } from '../../../jobs/job-names';
import type { JobProducer } from '../../../jobs/job-producer.service';
import { WebhookAttemptTrigger } from '../entities/webhook-attempt.entity';
import { WebhookMessageStatus } from '../entities/webhook-message.entity';
import type { WebhookEndpointsRepository } from '../repositories/webhook-endpoints.repository';
import type { AttemptRecord, DeliverableMessage, RecordedAttempt, WebhookMessagesRepository } from '../repositories/webhook-messages.repository';
import type { EndpointInFlight, InFlightSlot } from './endpoint-in-flight';
import type { EndpointSecrets } from './endpoint-secrets';
import { WebhookDeliveryService } from './webhook-delivery.service';
import type { SendRequest, SendResult, WebhookHttpSender } from './webhook-http.sender';

/**
 * One attempt's decisions, with the repositories, the sender and the queue faked: what
 * is recorded, what is scheduled, what the endpoint's health becomes.
 */
describe('WebhookDeliveryService', () => {
  const config: AppWebhooksConfig = { timeoutMs: 1000, retryScheduleSec: [0, 5, 300], disableAfterMs: 120 * 3600_000, secretRotationOverlapSec: 0, allowPrivateUrls: true, endpointMaxInFlight: 2 };

  function setup(
    opts: { message?: Partial<DeliverableMessage>; send?: SendResult; signingFails?: Error; endpointFailing?: boolean; failingSince?: Date; slot?: InFlightSlot } = {},
  ) {
    const message: DeliverableMessage = {
      id: 'm1',
      endpointId: 'e1',
      eventId: 'ev1',
      eventType: 'session.created',
      body: '{"a":1}',
      status: WebhookMessageStatus.Pending,
      attempts: 0,
      createdAt: new Date(Date.now() - 1000),
      dueAt: new Date(),
      url: 'https://app.example.com/hook',
      enabled: true,
      secretEnc: 'v1.k.sealed',
      previousSecretEnc: null,
      previousSecretExpiresAt: null,
      ...opts.message,
    };
    const recorded: AttemptRecord[] = [];
    const sent: SendRequest[] = [];
    const enqueued: Array<{ name: JobName; data: unknown; delay?: number }> = [];
    const messages = {
      findDeliverable: jest.fn(async () => message),
      recordAttempt: jest.fn(async (a: AttemptRecord): Promise<RecordedAttempt | null> => {
        recorded.push(a);
        return { endpointFailing: opts.endpointFailing ?? false };
      }),
      failWithoutAttempt: jest.fn(),
      failPendingOfEndpoint: jest.fn(async () => 0),
      postpone: jest.fn(async () => undefined),
    };
    const release = jest.fn(async () => undefined);
    const inFlight = {
      acquire: jest.fn(async (): Promise<InFlightSlot> => opts.slot ?? { taken: true, release }),
      pause: jest.fn(async () => undefined),
    };
    const endpoints = {
      markFailing: jest.fn(async () => opts.failingSince ?? new Date()),
      markHealthy: jest.fn(async () => undefined),
      disable: jest.fn(async () => true),
    };
    const secrets = {
      signingSecrets: jest.fn(() => {
        if (opts.signingFails) throw opts.signingFails;
        return ['whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=='];
      }),
    };
    const sender = {
      send: jest.fn(async (req: SendRequest) => {
        sent.push(req);
        return opts.send ?? { statusCode: 200, responseBody: 'ok', latencyMs: 5, error: null };
      }),
    };
    const producer = {
      enqueue: jest.fn(async (name: JobName, data: unknown, o?: { delay?: number }) => {
        enqueued.push({ name, data, delay: o?.delay });
        return {};
      }),
    };
    const metric = { inc: jest.fn(), observe: jest.fn() };
    const metrics = { counter: () => metric, histogram: () => metric } as unknown as MetricsService;
    const db = { transaction: async (fn: (em: unknown) => unknown) => fn({}) } as unknown as DataSource;
    const service = new WebhookDeliveryService(
      db,
      messages as unknown as WebhookMessagesRepository,
      endpoints as unknown as WebhookEndpointsRepository,
      secrets as unknown as EndpointSecrets,
      sender as unknown as WebhookHttpSender,
      producer as unknown as JobProducer,
      inFlight as unknown as EndpointInFlight,
      { get: () => config } as unknown as ConfigService<AppConfig, true>,
      metrics,
    );
    return { service, recorded, sent, enqueued, messages, endpoints, inFlight, release };
  }

  it('records an attempt whose request could not be signed as failed, without sending, and retries it on the schedule', async () => {
    const t = setup({ signingFails: new TokenDecryptionError('key "old" is not in TOKEN_ENCRYPTION_KEYS') });
    await expect(t.service.deliver('m1', 1)).resolves.toBe('retrying');
    expect(t.sent).toEqual([]);
    expect(t.recorded).toEqual([
      expect.objectContaining({
        messageId: 'm1',
        attemptNo: 1,
        statusCode: null,
        status: WebhookMessageStatus.Pending,
        nextAttemptAt: expect.any(Date),
        error: `not sent: the endpoint's signing secret could not be used (Stored token could not be decrypted: key "old" is not in TOKEN_ENCRYPTION_KEYS)`,
      }),
    ]);
    // The endpoint counts as failing: an endpoint whose secret never opens is disabled in time.
    expect(t.endpoints.markFailing).toHaveBeenCalledWith('e1', expect.any(Number));
    expect(t.enqueued).toEqual([{ name: JobName.WebhookDeliver, data: { messageId: 'm1', attempt: 2 }, delay: expect.any(Number) }]);
  });

  it('fails the message when the schedule is used up, and keeps an unknown error message out of last_error (only its name)', async () => {
    const t = setup({ message: { attempts: 2 }, signingFails: Object.assign(new Error('secret whsec_abc leaked here'), { name: 'RangeError' }) });
    await expect(t.service.deliver('m1', 3)).resolves.toBe('failed');
    expect(t.recorded[0]).toMatchObject({ attemptNo: 3, status: WebhookMessageStatus.Failed, nextAttemptAt: null, error: "not sent: the endpoint's signing secret could not be used (RangeError)" });
    expect(t.recorded[0].error).not.toContain('whsec_');
    expect(t.enqueued).toEqual([]);
  });

  it('clears failing_since when the endpoint was failing when the 2xx was written (what the message was loaded with does not decide)', async () => {
    const t = setup({ endpointFailing: true });
    await expect(t.service.deliver('m1', 1)).resolves.toBe('succeeded');
    expect(t.endpoints.markHealthy).toHaveBeenCalledWith('e1');
  });

  it('leaves a healthy endpoint alone on a 2xx', async () => {
    const t = setup({ endpointFailing: false });
    await expect(t.service.deliver('m1', 1)).resolves.toBe('succeeded');
    expect(t.endpoints.markHealthy).not.toHaveBeenCalled();
  });

  it('passes the continuity window (longest retry wait + timeout + slack) to markFailing', async () => {
    const t = setup({ send: { statusCode: 502, responseBody: 'bad gateway', latencyMs: 3, error: null } });
    await expect(t.service.deliver('m1', 1)).resolves.toBe('retrying');
    // 300 s + 10 % jitter, the 1 s timeout, 5 minutes of slack.
    expect(t.endpoints.markFailing).toHaveBeenCalledWith('e1', 330_000 + 1000 + 300_000);
  });

  describe("the endpoint's in-flight cap and Retry-After", () => {
    const defer = jest.fn(async (at: number): Promise<never> => {
      throw Object.assign(new Error('deferred'), { at });
    });
    beforeEach(() => defer.mockClear());

    it('sends nothing when the endpoint is full: the job goes back to wait, its attempt unused, and the late message is postponed', async () => {
      const retryAt = Date.now() + 1000;
      const t = setup({ slot: { taken: false, paused: false, retryAt }, message: { dueAt: new Date(Date.now() - 60_000) } });
      await expect(t.service.deliver('m1', 1, WebhookAttemptTrigger.Scheduled, { defer })).rejects.toMatchObject({ at: retryAt });
      expect(t.inFlight.acquire).toHaveBeenCalledWith('e1');
      expect(t.sent).toEqual([]);
      expect(t.recorded).toEqual([]);
      expect(t.messages.postpone).toHaveBeenCalledWith('m1', 1, new Date(retryAt));
    });

    it('does not write the due time at every short deferral of a message that is on time', async () => {
      const t = setup({ slot: { taken: false, paused: false, retryAt: Date.now() + 1000 }, message: { dueAt: new Date() } });
      await expect(t.service.deliver('m1', 1, WebhookAttemptTrigger.Scheduled, { defer })).rejects.toThrow('deferred');
      expect(t.messages.postpone).not.toHaveBeenCalled();
    });

    it('holds a slot only for the exchange: released once the answer is in', async () => {
      const t = setup();
      await expect(t.service.deliver('m1', 1, WebhookAttemptTrigger.Scheduled, { defer })).resolves.toBe('succeeded');
      expect(t.release).toHaveBeenCalledTimes(1);
      expect(defer).not.toHaveBeenCalled();
    });

    it('gives the slot back when the request cannot be signed', async () => {
      const t = setup({ signingFails: new TokenDecryptionError('malformed envelope') });
      await expect(t.service.deliver('m1', 1, WebhookAttemptTrigger.Scheduled, { defer })).resolves.toBe('retrying');
      expect(t.release).toHaveBeenCalledTimes(1);
      expect(t.sent).toEqual([]);
    });

    it("honours a 429's Retry-After: the retry waits at least that long and the endpoint is paused for every message", async () => {
      const t = setup({ send: { statusCode: 429, responseBody: 'slow down', latencyMs: 2, error: null, retryAfterMs: 120_000 } });
      const before = Date.now();
      await expect(t.service.deliver('m1', 1, WebhookAttemptTrigger.Scheduled, { defer })).resolves.toBe('retrying');
      // The schedule says 5 s; Retry-After says 2 minutes.
      expect(t.enqueued[0].delay).toBe(120_000);
      expect((t.recorded[0].nextAttemptAt as Date).getTime()).toBeGreaterThanOrEqual(before + 120_000);
      expect(t.inFlight.pause).toHaveBeenCalledWith('e1', 120_000);
    });

    it('caps Retry-After at the longest wait of the schedule', async () => {
      const t = setup({ send: { statusCode: 429, responseBody: null, latencyMs: 2, error: null, retryAfterMs: 7 * 86_400_000 } });
      await t.service.deliver('m1', 1, WebhookAttemptTrigger.Scheduled, { defer });
      expect(t.inFlight.pause).toHaveBeenCalledWith('e1', 330_000);
      expect(t.enqueued[0].delay).toBe(330_000);
    });
  });

  describe('a delivery job that failed for good', () => {
    it('records its attempt as failed and schedules the next, without counting against the endpoint', async () => {
      const t = setup({ message: { attempts: 0 } });
      await expect(t.service.attemptJobFailed('m1', 1, WebhookAttemptTrigger.Resend, new Error('Connection terminated unexpectedly'))).resolves.toBe('retrying');
      expect(t.sent).toEqual([]);
      expect(t.recorded).toEqual([
        expect.objectContaining({ attemptNo: 1, trigger: WebhookAttemptTrigger.Resend, status: WebhookMessageStatus.Pending, error: 'the delivery job failed: Connection terminated unexpectedly' }),
      ]);
      expect(t.endpoints.markFailing).not.toHaveBeenCalled();
      expect(t.enqueued).toEqual([{ name: JobName.WebhookDeliver, data: { messageId: 'm1', attempt: 2 }, delay: expect.any(Number) }]);
    });

    it('fails the message after the last attempt of the schedule', async () => {
      const t = setup({ message: { attempts: 2 } });
      await expect(t.service.attemptJobFailed('m1', 3, WebhookAttemptTrigger.Scheduled, new Error('boom'))).resolves.toBe('failed');
      expect(t.recorded[0]).toMatchObject({ status: WebhookMessageStatus.Failed, nextAttemptAt: null, error: 'the delivery job failed: boom' });
    });

    it('does nothing when the attempt was recorded after all, or the message is no longer pending', async () => {
      for (const message of [{ attempts: 1 }, { status: WebhookMessageStatus.Failed }]) {
        const t = setup({ message });
        await expect(t.service.attemptJobFailed('m1', 1, WebhookAttemptTrigger.Scheduled, new Error('boom'))).resolves.toBe('stale');
        expect(t.recorded).toEqual([]);
      }
    });
  });
});
