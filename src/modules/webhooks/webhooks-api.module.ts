import { Module } from '@nestjs/common';
import { WebhooksModule } from './webhooks.module';
import { ZoomWebhookReceiver } from './zoom-webhook.receiver';

/**
 * The webhook endpoint of API processes. Its route is mounted by bootstrap as a plain
 * Express handler (see zoom-webhook.route.ts for why).
 */
@Module({ imports: [WebhooksModule], providers: [ZoomWebhookReceiver], exports: [ZoomWebhookReceiver] })
export class WebhooksApiModule {}
