import { Module } from '@nestjs/common';
import { AppWebhooksCoreModule } from './app-webhooks.module';
import { WebhookDeliveryLogService } from './webhook-delivery-log.service';
import { WebhookEndpointsController } from './webhook-endpoints.controller';
import { WebhookEndpointsService } from './webhook-endpoints.service';
import { WebhookMessagesController } from './webhook-messages.controller';

/** The webhook-endpoints and delivery-log routes (API processes only; delivery runs in workers). */
@Module({
  imports: [AppWebhooksCoreModule],
  controllers: [WebhookEndpointsController, WebhookMessagesController],
  providers: [WebhookEndpointsService, WebhookDeliveryLogService],
})
export class AppWebhooksApiModule {}
