import { Module } from '@nestjs/common';
import { AppEventsModule } from '../app-events';
import { LivePublisherModule } from '../live';
import { EndpointInFlight } from './delivery/endpoint-in-flight';
import { EndpointSecrets } from './delivery/endpoint-secrets';
import { WebhookAttemptQueue } from './delivery/webhook-attempt-queue';
import { WebhookDeliveryService } from './delivery/webhook-delivery.service';
import { WebhookHttpSender } from './delivery/webhook-http.sender';
import { AppEventFanoutService } from './fanout/app-event-fanout.service';
import { WebhookDeliverySweeper } from './fanout/webhook-delivery.sweeper';
import { WebhookEndpointsRepository } from './repositories/webhook-endpoints.repository';
import { WebhookMessagesRepository } from './repositories/webhook-messages.repository';
import { WebhookMessageRetentionService } from './webhook-message-retention.service';

/** What the API and the worker share: the tables' repositories, the sealing of secrets, and retention's part (used by the retention module). */
@Module({
  providers: [WebhookMessagesRepository, WebhookEndpointsRepository, EndpointSecrets, WebhookAttemptQueue, WebhookMessageRetentionService],
  exports: [WebhookMessagesRepository, WebhookEndpointsRepository, EndpointSecrets, WebhookAttemptQueue, WebhookMessageRetentionService],
})
export class AppWebhooksCoreModule {}

/**
 * Delivery of app events to app endpoints (worker side): fan-out, signed attempts,
 * retries, sweeper. API processes import only the core: the sweeper runs where the
 * app-webhooks queue is consumed.
 */
@Module({
  imports: [AppEventsModule, AppWebhooksCoreModule, LivePublisherModule],
  providers: [WebhookHttpSender, EndpointInFlight, WebhookDeliveryService, AppEventFanoutService, WebhookDeliverySweeper],
  exports: [AppWebhooksCoreModule, WebhookDeliveryService, AppEventFanoutService, WebhookDeliverySweeper],
})
export class AppWebhooksModule {}
