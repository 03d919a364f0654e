import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';
import { artifactView, ArtifactView } from '../artifacts/artifacts.service';
import { MediaArtifactEntity } from '../entities/media-artifact.entity';
import { MediaArtifactsRepository } from '../repositories/media-artifacts.repository';
import { sanitizeSegment, userFolder } from '../storage/media-key';
import { MEDIA_STORAGE, MediaStorage } from '../storage/media-storage';

/** One stored piece a recording is composed from (an H.264 segment or a WAV segment). */
export interface RecordingSource {
  storageKey: string;
  rtmsStreamId: string;
  userId: string;
  userName: string | null;
  capturedAt: Date;
  durationMs: number | null;
  bytes: number;
  meta: Record<string, unknown>;
}

/** A file the compose job built, to store as an artifact of the session. */
export interface ComposedFile {
  sessionId: string;
  rtmsStreamId: string;
  kind: 'recording' | 'participant_audio';
  /** '0' for the recording (everyone), the participant's id for their audio. */
  userId: string;
  userName: string | null;
  contentType: string;
  capturedAt: Date;
  durationMs: number;
  meta: Record<string, unknown>;
}

/** The kinds composed from a session's media (and purged, erased and re-composed with it). */
export const COMPOSED_KINDS = ['recording', 'participant_audio'] as const;

/**
 * Storage key of a composed file. Deterministic, so composing again replaces the object
 * and (upsert by key) its row: `{session}/recording/recording.mp4`,
 * `{session}/participant_audio/{name}_{id}/audio.{ext}`.
 */
export function composedKey(f: Pick<ComposedFile, 'sessionId' | 'kind' | 'userId' | 'userName'>, ext: string): string {
  const session = sanitizeSegment(f.sessionId);
  const e = sanitizeSegment(ext, 'bin', 16).replace(/\./g, '');
  if (f.kind === 'recording') return `${session}/recording/recording.${e}`;
  return `${session}/participant_audio/${userFolder(f.userName, f.userId)}/audio.${e}`;
}

/**
 * What the media-compose module needs of captured media (media-ingest owns the tables
 * and the storage): a session's sources, their bytes, and storing what it composed.
 */
@Injectable()
export class RecordingMediaService {
  constructor(
    private readonly rows: MediaArtifactsRepository,
    @Inject(MEDIA_STORAGE) private readonly storage: MediaStorage,
  ) {}

  /** The session's H.264 video segments and WAV audio segments, oldest first. */
  async sources(sessionId: string): Promise<{ video: RecordingSource[]; audio: RecordingSource[] }> {
    const rows = await this.rows.findForSessionByKinds(sessionId, ['video_segment', 'audio_segment']);
    const toSource = (a: MediaArtifactEntity): RecordingSource => ({
      storageKey: a.storageKey,
      rtmsStreamId: a.rtmsStreamId,
      userId: a.userId,
      userName: a.userName,
      capturedAt: a.capturedAt,
      durationMs: a.durationMs,
      bytes: a.bytes,
      meta: a.meta,
    });
    return {
      video: rows.filter((r) => r.kind === 'video_segment').map(toSource),
      audio: rows.filter((r) => r.kind === 'audio_segment').map(toSource),
    };
  }

  /** Streams a stored object into a local file (never whole in memory). */
  async download(storageKey: string, filePath: string): Promise<void> {
    const obj = await this.storage.get(storageKey);
    await pipeline(obj.stream, createWriteStream(filePath, { mode: 0o600 }));
  }

  /** Stores a composed file under its deterministic key and upserts its row: composing again replaces both. */
  async save(file: ComposedFile, ext: string, filePath: string): Promise<ArtifactView> {
    const storageKey = composedKey(file, ext);
    const put = await this.storage.putFile(storageKey, filePath, file.contentType);
    await this.rows.upsertMany([{ ...file, storageKey, bytes: put.bytes, sha256: put.sha256 }]);
    const row = await this.rows.findRowByStorageKey(storageKey);
    if (!row) throw new Error(`The artifact row of ${storageKey} vanished right after it was written (session deleted meanwhile?)`);
    return artifactView(row);
  }

  /** The session's composed recording, if any. */
  async recording(sessionId: string): Promise<ArtifactView | null> {
    const [row] = await this.rows.findForSessionByKinds(sessionId, ['recording']);
    return row ? artifactView(row) : null;
  }

  /**
   * Deletes the session's composed files (rows in `em`, then objects): an erasure of one
   * participant takes the recording that shows them. Returns what went.
   */
  async deleteComposed(sessionId: string, em: EntityManager, kinds: readonly ('recording' | 'participant_audio')[] = COMPOSED_KINDS): Promise<{ objects: number; bytes: number }> {
    const gone = await this.rows.deleteForSessionByKinds(sessionId, kinds, em);
    for (const g of gone) await this.storage.delete(g.storageKey);
    return { objects: gone.length, bytes: gone.reduce((n, g) => n + g.bytes, 0) };
  }
}
