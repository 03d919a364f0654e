import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AppEventRetentionService } from '../../app-events';
import type { SessionOutboxScope } from '../../app-events';
import { WebhookMessageRetentionService } from '../../app-webhooks';

/**
 * A session's (or a person's) rows in the app-event outbox: its app events and the
 * webhook messages made of them (their attempts by cascade). `webhook_messages.event_id`
 * has no foreign key (a test ping has no app event), so the messages are deleted
 * explicitly, in the same transaction, after their events: a fan-out that read an event
 * just before waits for this transaction (it locks the event) and then makes no messages.
 * Pending messages go too: the data they carry is what is being deleted, and their
 * delivery job finds nothing and ends (docs/retention.md).
 */
@Injectable()
export class SessionOutboxPurge {
  constructor(
    private readonly events: AppEventRetentionService,
    private readonly messages: WebhookMessageRetentionService,
  ) {}

  /** Up to `limit` (null: all) of the session's app events in `scope`, with their messages; rows per table. */
  async deleteOfSession(sessionId: string, scope: SessionOutboxScope, limit: number | null, em: EntityManager): Promise<Record<string, number>> {
    const ids = await this.events.deleteOfSession(sessionId, scope, limit, em);
    return rowsOf(ids.length, await this.messages.deleteForEvents(ids, em));
  }

  /** The app events of a session about these user ids (transcript lines, joins, leaves), with their messages. */
  async deleteOfUsers(sessionId: string, userIds: string[], em: EntityManager): Promise<{ appEvents: number; webhookMessages: number }> {
    const ids = await this.events.deleteOfUsers(sessionId, userIds, em);
    return { appEvents: ids.length, webhookMessages: await this.messages.deleteForEvents(ids, em) };
  }
}

/** Rows per table, leaving out the tables nothing was deleted from (deletion-log style). */
export function rowsOf(appEvents: number, webhookMessages: number): Record<string, number> {
  return { ...(appEvents > 0 ? { app_events: appEvents } : {}), ...(webhookMessages > 0 ? { webhook_messages: webhookMessages } : {}) };
}
