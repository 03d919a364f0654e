import { randomUUID } from 'node:crypto';
import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { AfterCommit } from '../../database/after-commit';
import { errorMessage } from '../../common/errors/error-message';
import { JobName } from '../../jobs/job-names';
import { JobProducer } from '../../jobs/job-producer.service';
import { AppEvent, AppEventInput } from './app-event-types';
import { AppEventsRepository } from './repositories/app-events.repository';

/**
 * Records app events: the one source that webhook delivery (and, later, live fan-out)
 * read. A producer records an event in the same transaction as the fact it reports
 * (pass that transaction's EntityManager), so nothing is announced for a change that
 * rolled back. The fan-out job is queued once the transaction commits; a sweeper
 * re-queues events whose job was lost.
 */
@Injectable()
export class AppEventsService {
  private readonly logger = new Logger(AppEventsService.name);

  constructor(
    private readonly events: AppEventsRepository,
    private readonly producer: JobProducer,
    private readonly afterCommit: AfterCommit,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  /**
   * Records an event. With `em` inside a transaction, it is written there and queued
   * after the commit; otherwise it is written and queued at once.
   */
  async record(input: AppEventInput, em?: EntityManager): Promise<AppEvent> {
    const manager = em ?? this.db.manager;
    const [event] = await this.numbered([input], manager);
    const stored = await this.events.insert(event, manager);
    await this.fanoutAfterCommit(manager, [stored.id]);
    return stored;
  }

  /**
   * Records several events at once (a batch of transcript lines, say): one statement
   * reserves every session's sequence numbers, one inserts the rows. Events of one
   * session get consecutive numbers in the order given.
   */
  async recordMany(inputs: AppEventInput[], em?: EntityManager): Promise<void> {
    if (inputs.length === 0) return;
    const manager = em ?? this.db.manager;
    const events = await this.numbered(inputs, manager);
    await this.events.insertMany(events, manager);
    await this.fanoutAfterCommit(manager, events.map((e) => e.id));
  }

  /**
   * The events to store: ids, and each session's next sequence numbers, reserved in the
   * caller's transaction (consecutive, in the order given); `data` carries both.
   */
  private async numbered(inputs: AppEventInput[], manager: EntityManager): Promise<Array<Omit<AppEvent, 'createdAt'>>> {
    const counts = new Map<string, number>();
    for (const i of inputs) if (i.sessionId) counts.set(i.sessionId, (counts.get(i.sessionId) ?? 0) + 1);
    const next = await this.events.reserveSequences(counts, manager);
    return inputs.map((input) => {
      const sessionId = input.sessionId ?? null;
      let sequence: number | null = null;
      if (sessionId) {
        sequence = next.get(sessionId) as number;
        next.set(sessionId, sequence + 1);
      }
      return { id: randomUUID(), type: input.type, sessionId, sequence, data: { ...input.data, session_id: sessionId, sequence } };
    });
  }

  /** The fan-out is queued once the producer's transaction commits (never if it rolls back). */
  private fanoutAfterCommit(manager: EntityManager, ids: string[]): Promise<void> {
    return this.afterCommit.run(manager, () => this.queueFanout(ids));
  }

  /** Queues the fan-out of stored events; a failure is left to the sweeper (the events are stored). */
  async queueFanout(eventIds: string[]): Promise<void> {
    if (eventIds.length === 0) return;
    try {
      await this.producer.enqueueBulk(
        JobName.AppEventFanout,
        eventIds.map((eventId) => ({ data: { eventId } })),
      );
    } catch (err) {
      this.logger.warn(`Stored ${eventIds.length} app event(s) but could not queue their fan-out (the sweeper will): ${errorMessage(err)}`);
    }
  }

  /** The sweeper's re-queue: also replaces a fan-out job that finished (failed) without fanning out. Returns how many it queued. */
  async requeueFanout(eventIds: string[]): Promise<number> {
    let queued = 0;
    for (const eventId of eventIds) if (await this.producer.requeue(JobName.AppEventFanout, { eventId })) queued++;
    return queued;
  }

  findById(id: string): Promise<AppEvent | null> {
    return this.events.findById(id);
  }

  /** See AppEventsRepository.lockIfPresent. Needs a transaction. */
  lockIfPresent(id: string, em: EntityManager): Promise<boolean> {
    return this.events.lockIfPresent(id, em);
  }

  markFannedOut(id: string, em?: EntityManager): Promise<void> {
    return this.events.markFannedOut(id, em);
  }

  /** Events whose fan-out job was lost (stored, never fanned out), for the sweeper. */
  findNotFannedOut(olderThanMs: number, limit: number): Promise<string[]> {
    return this.events.findNotFannedOut(olderThanMs, limit);
  }
}
