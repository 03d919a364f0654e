import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import { EntityManager } from 'typeorm';
import { decodeCursor, Page } from '../../common/http/pagination';
import { keysetToPage } from '../../common/http/keyset-page';
import { MetricsService } from '../../common/metrics/metrics.service';
import { AfterCommit } from '../../database/after-commit';
import { AppEventsService, AppEventType } from '../app-events';
import { DeletionNotFoundError } from './deletion-log.errors';
import { deletionView } from './deletion.views';
import { ListDeletionsQuery } from './dto/list-deletions.query';
import { DeletionActor, DeletionEntryEntity, DeletionReason } from './entities/deletion-entry.entity';
import { DeletionLogRepository } from './repositories/deletion-log.repository';

/** A deletion as a caller reports it. */
export interface DeletionInput {
  reason: DeletionReason;
  sessionId: string | null;
  rtmsStreamId?: string | null;
  erasureId?: string | null;
  /** media, transcript, chat, events, participants, session. */
  categories: string[];
  objectsDeleted: number;
  bytesDeleted: number;
  rowsDeleted: Record<string, number>;
  /** The API key that asked (its fingerprint only); absent: the hub (retention) or Zoom (revoked). */
  apiKeyFingerprint?: string | null;
  actor?: DeletionActor;
  /** The session's owner tag (null: unscoped). */
  owner?: string | null;
  details?: Record<string, unknown>;
}

/**
 * The one way a deletion is recorded: a `deletion_log` row and, for a session's data,
 * `media.deleted` to apps — both in the caller's transaction, the one that deletes the
 * rows, so the trail never claims a deletion that rolled back or misses one that happened.
 */
@Injectable()
export class DeletionLogService {
  private readonly deletions: Counter<'reason'>;
  private readonly objects: Counter<'reason'>;
  private readonly bytes: Counter<'reason'>;

  constructor(
    private readonly log: DeletionLogRepository,
    private readonly appEvents: AppEventsService,
    private readonly afterCommit: AfterCommit,
    metrics: MetricsService,
  ) {
    this.deletions = metrics.counter({ name: 'rtms_hub_deletions_total', help: 'Deletions recorded in the deletion log', labelNames: ['reason'] });
    this.objects = metrics.counter({ name: 'rtms_hub_deleted_objects_total', help: 'Stored objects deleted, per deletion reason', labelNames: ['reason'] });
    this.bytes = metrics.counter({ name: 'rtms_hub_deleted_bytes_total', help: 'Stored bytes deleted, per deletion reason', labelNames: ['reason'] });
  }

  async record(input: DeletionInput, em: EntityManager): Promise<DeletionEntryEntity> {
    const actor = input.actor ?? (input.apiKeyFingerprint ? DeletionActor.ApiKey : DeletionActor.System);
    const entry = await this.log.insert(
      {
        reason: input.reason,
        sessionId: input.sessionId,
        rtmsStreamId: input.rtmsStreamId ?? null,
        erasureId: input.erasureId ?? null,
        categories: input.categories,
        objectsDeleted: input.objectsDeleted,
        bytesDeleted: input.bytesDeleted,
        rowsDeleted: input.rowsDeleted,
        actor,
        apiKeyFingerprint: input.apiKeyFingerprint ?? null,
        owner: input.owner ?? null,
        details: input.details ?? {},
      },
      em,
    );
    if (input.sessionId) {
      await this.appEvents.record(
        {
          type: AppEventType.MediaDeleted,
          sessionId: input.sessionId,
          data: {
            reason: input.reason,
            deletion_id: entry.id,
            rtms_stream_id: input.rtmsStreamId ?? null,
            erasure_id: input.erasureId ?? null,
            categories: input.categories,
            // Kept from before the deletion log: the stored objects deleted.
            artifacts_deleted: input.objectsDeleted,
            bytes_deleted: input.bytesDeleted,
          },
        },
        em,
      );
    }
    // Counted once committed: a deletion that rolls back never happened.
    await this.afterCommit.run(em, async () => {
      this.deletions.inc({ reason: input.reason });
      this.objects.inc({ reason: input.reason }, input.objectsDeleted);
      this.bytes.inc({ reason: input.reason }, input.bytesDeleted);
    });
    return entry;
  }

  /** One page of the log, newest first; an owner-scoped caller sees only its owner's deletions. */
  async list(query: ListDeletionsQuery, owner?: string | null): Promise<Page<ReturnType<typeof deletionView>>> {
    const limit = query.limit ?? 20;
    const cursor = decodeCursor(query.cursor);
    const rows = await this.log.findPage(
      { sessionId: query.session_id, reason: query.reason, createdFrom: query.created_from, createdTo: query.created_to, owner: owner ?? undefined },
      limit,
      cursor,
    );
    return keysetToPage(rows, limit, deletionView);
  }

  /** The entry, or DeletionNotFoundError (also for another owner's entry: a scoped key never learns it exists). */
  async get(id: string, owner?: string | null): Promise<ReturnType<typeof deletionView>> {
    const entry = await this.log.findById(id, owner);
    if (!entry) throw new DeletionNotFoundError(id);
    return deletionView(entry);
  }
}
