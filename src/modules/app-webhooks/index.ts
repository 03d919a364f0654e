/* The app-webhooks module's door: its Nest module and the processor the worker registers. */
export { AppWebhooksModule } from './app-webhooks.module';
export { AppWebhooksProcessor } from './app-webhooks.processor';
