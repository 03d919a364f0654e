import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../../config/app.config';
import { JobName } from '../../../jobs/job-names';
import { JobProducer } from '../../../jobs/job-producer.service';
import { errorMessage } from '../../../common/errors/error-message';
import { AppEvent, AppEventsService, AppEventType, OPT_IN_EVENT_TYPES } from '../../app-events';
import { LiveTextLog } from '../../live';
import { delayBeforeAttempt } from '../delivery/retry-schedule';
import { WebhookMessagesRepository } from '../repositories/webhook-messages.repository';

/** The JSON body every endpoint receives for an event. */
export function envelope(event: Pick<AppEvent, 'id' | 'type' | 'createdAt' | 'data'>): string {
  return JSON.stringify({ type: event.type, id: event.id, timestamp: event.createdAt.toISOString(), data: event.data });
}

/** Session facts live clients see in their `events` stream (the stream workers publish the rest themselves). */
export const LIVE_APP_EVENT_TYPES: ReadonlySet<AppEventType> = new Set([
  AppEventType.SessionStatusChanged,
  AppEventType.RecordingReady,
  AppEventType.ZoomRoomJoined,
  AppEventType.ZoomRoomLeft,
  AppEventType.ZoomRoomFailed,
]);

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
    private readonly liveText: LiveTextLog,
  ) {}

  async fanout(eventId: string): Promise<{ messages: number }> {
    const event = await this.events.findById(eventId);
    if (!event) return { messages: 0 };
    const firstDelayMs = delayBeforeAttempt(this.config.get('appWebhooks', { infer: true }).retryScheduleSec, 1) ?? 0;
    const ids = await this.db.transaction(async (em) => {
      // Deleted since it was read (its session deleted, its person erased): no messages for
      // it. Locked otherwise, so a deletion waits for these messages and takes them too.
      if (!(await this.events.lockIfPresent(event.id, em))) return [];
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
    await this.appendLive(event);
    return { messages: ids.length };
  }

  /**
   * Last, after the webhook messages are committed and queued, so live trouble never
   * delays or blocks webhook delivery. A failure fails the job: its retry finds the
   * messages already there (ON CONFLICT DO NOTHING creates and queues none, so nothing
   * is delivered twice) and only re-attempts this append, which the event id's marker
   * in Redis makes once-only (a job that appended and then died does not append again).
   */
  private async appendLive(event: AppEvent): Promise<void> {
    if (!event.sessionId || !LIVE_APP_EVENT_TYPES.has(event.type)) return;
    try {
      await this.liveText.appendAppEvent(event.id, {
        media: 'events',
        session_id: event.sessionId,
        ts: event.createdAt.getTime(),
        data: { event: event.type, ...event.data },
      });
    } catch (err) {
      throw new Error(`App event ${event.type} ${event.id}: webhook messages are queued, but the live log append failed (the retry appends only): ${errorMessage(err)}`);
    }
  }
}
