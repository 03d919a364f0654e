import { Module } from '@nestjs/common';
import { AppEventsModule } from '../app-events';
import { EndpointSecrets } from './delivery/endpoint-secrets';
import { WebhookDeliveryService } from './delivery/webhook-delivery.service';
import { WebhookHttpSender } from './delivery/webhook-http.sender';
import { AppEventFanoutService } from './fanout/app-event-fanout.service';
import { WebhookDeliverySweeper } from './fanout/webhook-delivery.sweeper';
import { WebhookEndpointsRepository } from './repositories/webhook-endpoints.repository';
import { WebhookMessagesRepository } from './repositories/webhook-messages.repository';

/** Delivery of app events to app endpoints (worker side): fan-out, signed attempts, retries, sweeper. */
@Module({
  imports: [AppEventsModule],
  providers: [
    WebhookMessagesRepository,
    WebhookEndpointsRepository,
    EndpointSecrets,
    WebhookHttpSender,
    WebhookDeliveryService,
    AppEventFanoutService,
    WebhookDeliverySweeper,
  ],
  exports: [WebhookMessagesRepository, WebhookEndpointsRepository, EndpointSecrets, WebhookDeliveryService, AppEventFanoutService, WebhookDeliverySweeper],
})
export class AppWebhooksModule {}
