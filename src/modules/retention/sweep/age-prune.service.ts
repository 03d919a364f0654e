import { Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../../../config/app.config';
import { AppEventRetentionService } from '../../app-events';
import { WebhookMessageRetentionService } from '../../app-webhooks';
import { SessionRetentionService, SessionsService } from '../../sessions';
import { FinishedDispatch, RoomDispatchRetentionService } from '../../zoom-rooms';

/** Rows deleted per table by one age-based pass. */
export type AgePruneCounts = Partial<Record<'session_events' | 'app_events' | 'webhook_messages' | 'app_event_sequences' | 'room_dispatches', number>>;

/**
 * The age-based part of the retention sweep (docs/retention.md "Unlinked events, app
 * events and webhook messages"): what is not a session's, or not only, goes a number of
 * days after it was written, oldest first, in batches of RETENTION_SWEEP_BATCH_SIZE along
 * an index, one short transaction each:
 * - Zoom events no session claimed (RETENTION_UNLINKED_EVENTS_DAYS), once processed;
 * - finished webhook messages and their attempts (RETENTION_WEBHOOK_MESSAGES_DAYS);
 * - app events (RETENTION_APP_EVENTS_DAYS), with their messages — never one that still
 *   has a message being delivered, nor one not fanned out yet: it waits for the next sweep;
 * - the per-session sequence counters of deleted sessions with no event left;
 * - finished Zoom Room dispatches (RETENTION_ROOM_DISPATCHES_DAYS, from their last
 *   update) — never one in progress, nor one with a room job still to run: it waits.
 * Legal holds do not reach these: they hold a session's record, and the outbox is a
 * delivery copy of it.
 */
@Injectable()
export class AgePruneService {
  private readonly logger = new Logger(AgePruneService.name);

  constructor(
    private readonly sessionRetention: SessionRetentionService,
    private readonly sessions: SessionsService,
    private readonly appEvents: AppEventRetentionService,
    private readonly messages: WebhookMessageRetentionService,
    private readonly roomDispatches: RoomDispatchRetentionService,
    private readonly config: ConfigService<AppConfig, true>,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  /** One pass over every table; `stop` is asked between batches (shutdown, a lost lease). */
  async prune(stop: () => boolean = () => false): Promise<AgePruneCounts> {
    const r = this.config.get('retention', { infer: true });
    const counts: AgePruneCounts = {};
    const add = (table: keyof AgePruneCounts, n: number) => {
      if (n > 0) counts[table] = (counts[table] ?? 0) + n;
    };
    /** Batches until one comes back short (nothing older is left). */
    const drain = async (table: keyof AgePruneCounts, batch: () => Promise<number>) => {
      while (!stop()) {
        const n = await batch();
        add(table, n);
        if (n < r.batchSize) return;
      }
    };
    if (r.unlinkedEventsDays > 0) await drain('session_events', () => this.sessionRetention.deleteUnlinkedEventsBatch(r.unlinkedEventsDays, r.batchSize));
    if (r.webhookMessagesDays > 0) await drain('webhook_messages', () => this.messages.deleteFinishedOlderThan(r.webhookMessagesDays, r.batchSize));
    if (r.appEventsDays > 0) await this.pruneAppEvents(r.appEventsDays, r.batchSize, stop, add);
    await this.pruneSequences(r.batchSize, stop, add);
    if (r.roomDispatchesDays > 0) await this.pruneRoomDispatches(r.roomDispatchesDays, r.batchSize, stop, add);
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    if (total > 0) this.logger.log(`Retention by age: ${Object.entries(counts).map(([t, n]) => `${n} ${t}`).join(', ')}`);
    return counts;
  }

  private async pruneAppEvents(days: number, limit: number, stop: () => boolean, add: (t: keyof AgePruneCounts, n: number) => void): Promise<void> {
    // Keyset over (created_at, id): an event kept back (a message still pending, not fanned out yet) is passed, not looked at again and again.
    let after: { createdAt: string; id: string } | null = null;
    while (!stop()) {
      const page = await this.appEvents.findOlderThan(days, after, limit);
      if (page.length === 0) return;
      after = page[page.length - 1];
      // Checked and deleted under locks, in one transaction: an event not fanned out yet
      // (no app-webhooks worker for a while) waits for its fan-out, and an event whose
      // message a resend or recover makes pending waits for that delivery — decided on the
      // rows as they are when deleted, not as they were a moment before.
      await this.db.transaction(async (em) => {
        const fannedOut = await this.appEvents.lockFannedOut(page.map((e) => e.id), em);
        const busy = await this.messages.lockEventsWithPending(fannedOut, em);
        const ids = fannedOut.filter((id) => !busy.has(id));
        if (ids.length === 0) return;
        add('app_events', await this.appEvents.deleteByIds(ids, em));
        add('webhook_messages', await this.messages.deleteForEvents(ids, em));
      });
      if (page.length < limit) return;
    }
  }

  private async pruneRoomDispatches(days: number, limit: number, stop: () => boolean, add: (t: keyof AgePruneCounts, n: number) => void): Promise<void> {
    // Keyset over (updated_at, id), as for app events: a dispatch kept back (a room job still to run) is passed.
    let after: FinishedDispatch | null = null;
    while (!stop()) {
      const page = await this.roomDispatches.findFinishedOlderThan(days, after, limit);
      if (page.length === 0) return;
      after = page[page.length - 1];
      const pending = await this.roomDispatches.withPendingJob(page);
      add('room_dispatches', await this.roomDispatches.deleteFinishedOlderThan(page.filter((d) => !pending.has(d.id)).map((d) => d.id), days));
      if (page.length < limit) return;
    }
  }

  private async pruneSequences(limit: number, stop: () => boolean, add: (t: keyof AgePruneCounts, n: number) => void): Promise<void> {
    let after: string | null = null;
    while (!stop()) {
      const idle = await this.appEvents.findIdleSequences(after, limit);
      if (idle.length === 0) return;
      after = idle[idle.length - 1];
      // A session that still exists keeps its counter: its next event continues the sequence.
      const existing = await this.sessions.existingIds(idle);
      add('app_event_sequences', await this.appEvents.deleteIdleSequences(idle.filter((id) => !existing.has(id))));
      if (idle.length < limit) return;
    }
  }
}
