/* The app-webhooks module's door: its Nest modules (delivery, API) and the processor the worker registers. */
export { AppWebhooksModule } from './app-webhooks.module';
export { AppWebhooksApiModule } from './app-webhooks-api.module';
export { AppWebhooksProcessor } from './app-webhooks.processor';
