/*
 * The webhooks module's door: the Zoom event intake (webhook route and event WebSocket)
 * as Nest modules, the zoom-events processor, and the raw-body webhook route the
 * bootstrap mounts ahead of Nest's body parsers.
 */
export { WebhooksApiModule } from './webhooks-api.module';
export { ZoomEventsWorkerModule } from './webhooks.module';
export { ZoomEventWsModule } from './event-ws/zoom-event-ws.module';
export { ZoomEventsProcessor } from './zoom-events.processor';
export { ZoomWebhookReceiver } from './zoom-webhook.receiver';
export { ZOOM_WEBHOOK_PATH, zoomWebhookRoute } from './zoom-webhook.route';
