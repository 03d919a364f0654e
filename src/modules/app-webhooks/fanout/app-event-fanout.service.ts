import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../../config/app.config';
import { JobName } from '../../../jobs/job-names';
import { JobProducer } from '../../../jobs/job-producer.service';
import { AppEvent, AppEventsService, OPT_IN_EVENT_TYPES } from '../../app-events';
import { delayBeforeAttempt } from '../delivery/retry-schedule';
import { WebhookMessagesRepository } from '../repositories/webhook-messages.repository';

/** The JSON body every endpoint receives for an event. */
export function envelope(event: Pick<AppEvent, 'id' | 'type' | 'createdAt' | 'data'>): string {
  return JSON.stringify({ type: event.type, id: event.id, timestamp: event.createdAt.toISOString(), data: event.data });
}

/**
 * Turns one app event into one message per subscribed endpoint (stored first, in the
 * same transaction that marks the event fanned out), then queues each message's first
 * attempt. Re-running it for the same event creates nothing twice.
 */
@Injectable()
export class AppEventFanoutService {
  private readonly logger = new Logger(AppEventFanoutService.name);

  constructor(
    private readonly events: AppEventsService,
    private readonly messages: WebhookMessagesRepository,
    private readonly producer: JobProducer,
    private readonly config: ConfigService<AppConfig, true>,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  async fanout(eventId: string): Promise<{ messages: number }> {
    const event = await this.events.findById(eventId);
    if (!event) return { messages: 0 };
    const firstDelayMs = delayBeforeAttempt(this.config.get('appWebhooks', { infer: true }).retryScheduleSec, 1) ?? 0;
    const ids = await this.db.transaction(async (em) => {
      const created = await this.messages.createForEvent({ id: event.id, type: event.type, optIn: OPT_IN_EVENT_TYPES.has(event.type), body: envelope(event) }, firstDelayMs, em);
      await this.events.markFannedOut(event.id, em);
      return created;
    });
    if (ids.length > 0) {
      await this.producer.enqueueBulk(
        JobName.WebhookDeliver,
        ids.map((messageId) => ({ data: { messageId, attempt: 1 }, opts: firstDelayMs > 0 ? { delay: firstDelayMs } : undefined })),
      );
      this.logger.debug(`App event ${event.type} ${event.id}: ${ids.length} webhook message(s)`);
    }
    return { messages: ids.length };
  }
}
