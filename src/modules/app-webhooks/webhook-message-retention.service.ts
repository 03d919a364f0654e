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

  eventsWithPending(eventIds: string[]): Promise<Set<string>> {
    return this.messages.eventsWithPending(eventIds);
  }

  deleteFinishedOlderThan(days: number, limit: number): Promise<number> {
    return this.messages.deleteFinishedOlderThan(days, limit);
  }
}
