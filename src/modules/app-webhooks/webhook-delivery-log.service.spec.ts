import { AppWebhooksErrorCode } from '../../common/errors/error-codes';
import { AppWebhooksError } from './app-webhooks.errors';
import { WebhookAttemptQueue } from './delivery/webhook-attempt-queue';
import { WebhookEndpointsRepository } from './repositories/webhook-endpoints.repository';
import { WebhookMessagesRepository } from './repositories/webhook-messages.repository';
import { WebhookDeliveryLogService } from './webhook-delivery-log.service';

describe('WebhookDeliveryLogService.listMessages', () => {
  const endpointId = '5b0c8a4e-0f0e-4a57-9c1b-2f7d8f0a6b11';
  const findById = jest.fn(async (id: string) => ({ id, enabled: true }));
  const findPage = jest.fn(async () => []);
  const service = new WebhookDeliveryLogService(
    { findById } as unknown as WebhookEndpointsRepository,
    { findPage } as unknown as WebhookMessagesRepository,
    {} as WebhookAttemptQueue,
  );
  beforeEach(() => jest.clearAllMocks());

  it('refuses an event_type outside the catalogue (400 unknown_event_type) instead of answering an empty page', async () => {
    const err: unknown = await service.listMessages(endpointId, { event_type: 'session.exploded' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppWebhooksError);
    expect((err as AppWebhooksError).code).toBe(AppWebhooksErrorCode.UnknownEventType);
    expect(findPage).not.toHaveBeenCalled();
  });

  it('filters by a catalogue type, ping included', async () => {
    await expect(service.listMessages(endpointId, { event_type: 'ping' })).resolves.toEqual({ data: [], next_cursor: null });
    expect(findPage).toHaveBeenCalledWith(endpointId, { status: undefined, eventType: 'ping' }, 20, undefined);
  });
});
