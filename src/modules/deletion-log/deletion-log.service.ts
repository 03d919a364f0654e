import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { AppEventsService, AppEventType } from '../app-events';
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
  constructor(
    private readonly log: DeletionLogRepository,
    private readonly appEvents: AppEventsService,
  ) {}

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
    return entry;
  }
}
