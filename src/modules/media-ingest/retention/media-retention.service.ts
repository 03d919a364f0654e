import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { MediaRetentionRepository, StoredTotals } from '../repositories/media-retention.repository';
import { ArtifactKind, KIND_FOLDER, sessionPrefix } from '../storage/media-key';
import { DeletedObjects, MEDIA_STORAGE, MediaStorage } from '../storage/media-storage';

/** The categories of the retention sweep that hold stored media (docs/retention.md). */
export type StoredCategory = 'media' | 'transcript';

const KINDS: Record<StoredCategory, ArtifactKind[]> = {
  media: ['video_frame', 'share_frame', 'video_segment', 'share_segment', 'audio_segment', 'recording', 'participant_audio'],
  transcript: ['chat'],
};

/** Storage deletes one batch runs at once (S3 round trips dominate a purge). */
const DELETE_CONCURRENCY = 8;

export interface PurgeBatchResult {
  objects: number;
  bytes: number;
  rows: Record<string, number>;
  /** False when the batch found nothing left to delete. */
  more: boolean;
}

/**
 * Media-ingest's part of the retention sweep: a session's stored media and media rows,
 * one batch at a time, in the caller's transaction. A batch deletes its objects first,
 * then their rows: killed in between, the rows are still there and the next batch deletes
 * the (already missing) objects again, so nothing is left without a row or a row without
 * its object once the purge finishes.
 */
@Injectable()
export class MediaRetentionService {
  constructor(
    private readonly repo: MediaRetentionRepository,
    @Inject(MEDIA_STORAGE) private readonly storage: MediaStorage,
  ) {}

  /** Deletes up to `limit` rows (and their objects) of the session's `category`. */
  async purgeBatch(sessionId: string, category: StoredCategory, limit: number, em: EntityManager): Promise<PurgeBatchResult> {
    // Rows without objects of their own go first: audio segments (their WAVs are artifacts), transcript lines.
    if (category === 'media') {
      const audio = await this.repo.deleteAudioSegmentsBatch(sessionId, limit, em);
      if (audio.segments > 0) return { objects: 0, bytes: 0, rows: { audio_segments: audio.segments, audio_parts: audio.parts }, more: true };
    } else {
      const lines = await this.repo.deleteTranscriptBatch(sessionId, limit, em);
      if (lines > 0) return { objects: 0, bytes: 0, rows: { transcript_segments: lines }, more: true };
    }
    const refs = await this.repo.lockArtifacts(sessionId, KINDS[category], limit, em);
    if (refs.length === 0) return { objects: 0, bytes: 0, rows: {}, more: false };
    await this.deleteObjects(refs.map((r) => r.storageKey));
    const deleted = await this.repo.deleteArtifacts(
      refs.map((r) => r.id),
      em,
    );
    return { objects: refs.length, bytes: refs.reduce((n, r) => n + r.bytes, 0), rows: { media_artifacts: deleted }, more: true };
  }

  /**
   * Objects of the category's folders that have no row (a save killed between its write
   * and its insert): once every row is gone, whatever is left there goes too. `session`:
   * the session's whole folder (the session row is about to go). Returns what went.
   */
  async deleteStrays(sessionId: string, scope: StoredCategory | 'session'): Promise<DeletedObjects> {
    const prefix = sessionPrefix(sessionId);
    if (scope === 'session') return this.storage.deletePrefix(prefix);
    const total = { objects: 0, bytes: 0 };
    for (const kind of KINDS[scope]) {
      const gone = await this.storage.deletePrefix(`${prefix}${KIND_FOLDER[kind]}/`);
      total.objects += gone.objects;
      total.bytes += gone.bytes;
    }
    return total;
  }

  /** Stored objects and bytes of unheld sessions, per category. */
  async storedByCategory(): Promise<Record<StoredCategory, StoredTotals>> {
    const byKind = await this.repo.storedByKind();
    const sum = (kinds: ArtifactKind[]) =>
      kinds.reduce((t, k) => ({ objects: t.objects + (byKind[k]?.objects ?? 0), bytes: t.bytes + (byKind[k]?.bytes ?? 0) }), { objects: 0, bytes: 0 });
    return { media: sum(KINDS.media), transcript: sum(KINDS.transcript) };
  }

  /** Deletes the objects, a few at a time; the first failure stops taking new keys and is thrown once every delete under way has settled. */
  private async deleteObjects(keys: string[]): Promise<void> {
    let next = 0;
    let failed = false;
    const worker = async () => {
      while (!failed && next < keys.length) {
        try {
          await this.storage.delete(keys[next++]);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    const results = await Promise.allSettled(Array.from({ length: Math.min(DELETE_CONCURRENCY, keys.length) }, worker));
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) throw failure.reason;
  }
}
