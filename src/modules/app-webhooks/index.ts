/* The app-webhooks module's door: its Nest modules (delivery, API), the processor the worker registers, retention's part, and the key rotation's re-sealer of endpoint secrets. */
export { AppWebhooksCoreModule, AppWebhooksModule } from './app-webhooks.module';
export { WebhookMessageRetentionService } from './webhook-message-retention.service';
export { AppWebhooksApiModule } from './app-webhooks-api.module';
export { AppWebhooksProcessor } from './app-webhooks.processor';
export { resealEndpointSecrets } from './delivery/endpoint-secrets.reseal';
