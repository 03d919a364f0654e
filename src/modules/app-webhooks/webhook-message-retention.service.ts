import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { WebhookMessagesRepository } from './repositories/webhook-messages.repository';

/**
 * The app-webhooks module's part of retention and erasure (docs/retention.md): the
 * messages (and, by cascade, attempts) of deleted app events, and finished messages by age.
 */
@Injectable()
export class WebhookMessageRetentionService {
  constructor(private readonly messages: WebhookMessagesRepository) {}

  deleteForEvents(eventIds: string[], em?: EntityManager): Promise<number> {
    return this.messages.deleteForEvents(eventIds, em);
  }

  /** Locks the messages of these events (in `em`'s transaction); returns the events with one still pending. */
  lockEventsWithPending(eventIds: string[], em: EntityManager): Promise<Set<string>> {
    return this.messages.lockEventsWithPending(eventIds, em);
  }

  deleteFinishedOlderThan(days: number, limit: number): Promise<number> {
    return this.messages.deleteFinishedOlderThan(days, limit);
  }
}
