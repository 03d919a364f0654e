/* The app-webhooks module's door: its Nest modules (delivery, API), the processor the worker registers, and retention's part. */
export { AppWebhooksCoreModule, AppWebhooksModule } from './app-webhooks.module';
export { WebhookMessageRetentionService } from './webhook-message-retention.service';
export { AppWebhooksApiModule } from './app-webhooks-api.module';
export { AppWebhooksProcessor } from './app-webhooks.processor';
