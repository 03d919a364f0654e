import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { DeletedObjects, MEDIA_STORAGE, MediaStorage } from '../storage/media-storage';
import { ErasedParticipants } from './erased-participants';
import { ParticipantMediaRepository, UserInSession, UserObject } from '../repositories/participant-media.repository';

/** Stored objects deleted at once (a session of one participant may hold thousands of frames). */
const DELETE_CONCURRENCY = 8;

/** What deleting one participant's rows of a session removed, per kind. */
export interface ParticipantRowsDeleted {
  video_frames: number;
  share_frames: number;
  /** H.264 segments (capture_policy format h264). */
  video_segments: number;
  share_segments: number;
  audio_segments: number;
  chat_messages: number;
  transcript_segments: number;
  /** audio_segments rows (spool bookkeeping; the WAVs are counted in audio_segments). */
  spool_segments: number;
}

/**
 * One participant's media across sessions, for erasure by participant
 * (docs/retention.md "Erasure"): find it, delete its stored objects, then its rows.
 * The caller (retention) owns the transaction and the deletion log.
 */
@Injectable()
export class ParticipantMediaService {
  constructor(
    private readonly repo: ParticipantMediaRepository,
    @Inject(MEDIA_STORAGE) private readonly storage: MediaStorage,
    private readonly erased: ErasedParticipants,
  ) {}

  /**
   * From now on, media of these users in the session received up to now is refused by the
   * savers (a batch that waited for storage or in a spill lands after the erasure): see
   * ErasedParticipants. Media received later is new capture.
   */
  markErased(sessionId: string, userIds: string[]): Promise<void> {
    return this.erased.mark(sessionId, userIds);
  }

  sessionsOfUserId(userId: string): Promise<UserInSession[]> {
    return this.repo.sessionsOfUserId(userId);
  }

  sessionsOfUserName(nfcName: string): Promise<UserInSession[]> {
    return this.repo.sessionsOfUserName(nfcName);
  }

  hasMixedAudio(sessionId: string): Promise<boolean> {
    return this.repo.hasMixedAudio(sessionId);
  }

  /** See ParticipantMediaRepository.lockUserSegments. Needs a transaction. */
  lockUserSegments(sessionId: string, userIds: string[], em: EntityManager): Promise<{ total: number; open: number }> {
    return this.repo.lockUserSegments(sessionId, userIds, em);
  }

  userObjects(sessionId: string, userIds: string[], em?: EntityManager): Promise<UserObject[]> {
    return this.repo.userObjects(sessionId, userIds, em);
  }

  /**
   * Deletes stored objects, a few at a time. Deleting an object already gone is a no-op,
   * so a run that crashed after some of them and is run again just goes on.
   */
  async deleteObjects(objects: UserObject[]): Promise<void> {
    for (let i = 0; i < objects.length; i += DELETE_CONCURRENCY) {
      await Promise.all(objects.slice(i, i + DELETE_CONCURRENCY).map((o) => this.storage.delete(o.storageKey)));
    }
  }

  /**
   * Removes the participant folders (`{session}/{kind}/{name}_{user id}/`) the objects
   * were in, with anything left in them: their names are the person's. A folder that
   * holds another participant's object (never, as keys are built) is left alone.
   * Returns the leftover objects (and their bytes) that went with them: objects without a
   * row, e.g. of a save killed between its write and its insert.
   */
  async deleteUserFolders(sessionId: string, userIds: string[], objects: UserObject[], em?: EntityManager): Promise<DeletedObjects> {
    const folders = [...new Set(objects.map((o) => o.storageKey.split('/')).filter((p) => p.length === 4).map((p) => `${p.slice(0, 3).join('/')}/`))];
    const shared = await this.repo.foldersShared(sessionId, folders, userIds, em);
    const leftovers = { objects: 0, bytes: 0 };
    for (const folder of folders) {
      if (shared.has(folder)) continue;
      const gone = await this.storage.deletePrefix(folder);
      leftovers.objects += gone.objects;
      leftovers.bytes += gone.bytes;
    }
    return leftovers;
  }

  /** Deletes the users' rows of a session (artifacts, transcript lines, audio segments and parts), in `em`. */
  async deleteUserRows(sessionId: string, userIds: string[], em: EntityManager): Promise<ParticipantRowsDeleted> {
    const artifacts = await this.repo.deleteUserArtifacts(sessionId, userIds, em);
    const transcript = await this.repo.deleteUserTranscript(sessionId, userIds, em);
    const segments = await this.repo.deleteUserSegments(sessionId, userIds, em);
    return {
      video_frames: artifacts.video_frame ?? 0,
      share_frames: artifacts.share_frame ?? 0,
      video_segments: artifacts.video_segment ?? 0,
      share_segments: artifacts.share_segment ?? 0,
      audio_segments: artifacts.audio_segment ?? 0,
      chat_messages: artifacts.chat ?? 0,
      transcript_segments: transcript,
      spool_segments: segments,
    };
  }
}
