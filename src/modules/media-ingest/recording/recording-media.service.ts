import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { artifactView, ArtifactView } from '../artifacts/artifacts.service';
import { MediaArtifactEntity } from '../entities/media-artifact.entity';
import { ErasedParticipants } from '../erasure/erased-participants';
import { MediaArtifactsRepository } from '../repositories/media-artifacts.repository';
import { sanitizeSegment, userFolder } from '../storage/media-key';
import { MEDIA_STORAGE, MediaStorage, PutResult } from '../storage/media-storage';
import { SessionsService } from '../../sessions';
import { changedSources, isForeignKeyViolation, rowsByKey } from './composed-commit';

/** One stored piece a recording is composed from (an H.264 segment or a WAV segment). */
export interface RecordingSource {
  storageKey: string;
  rtmsStreamId: string;
  userId: string;
  userName: string | null;
  capturedAt: Date;
  durationMs: number | null;
  bytes: number;
  /** The bytes as its row recorded them when the sources were read: commitComposed checks they are still those. */
  sha256: string;
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

/** A composed file uploaded under its key, its row not written yet (commitComposed writes it). */
type ComposedUpload = ComposedFile & { storageKey: string; bytes: number; sha256: string };

/**
 * putFile with an abort signal. The S3 driver takes it (SIGTERM stops a multi-GB upload);
 * the local driver's copy is a write to local disk, and ignores it. MediaStorage
 * (storage/media-storage.ts) does not declare the parameter yet.
 */
type AbortablePutFile = { putFile(key: string, filePath: string, contentType: string, opts?: { signal?: AbortSignal }): Promise<PutResult> };

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
 * and the storage): a session's sources, their bytes, and storing what it composed —
 * never over an erasure, a retention purge or a deletion that took some of those sources
 * while it composed (commitComposed; docs/recordings.md, "Erasure, retention and deletion
 * during a composition").
 */
@Injectable()
export class RecordingMediaService {
  private readonly logger = new Logger(RecordingMediaService.name);

  constructor(
    private readonly rows: MediaArtifactsRepository,
    @Inject(MEDIA_STORAGE) private readonly storage: MediaStorage,
    @InjectDataSource() private readonly db: DataSource,
    private readonly erased: ErasedParticipants,
    private readonly sessions: SessionsService,
  ) {}

  /**
   * The session's H.264 video segments and WAV audio segments, oldest first. Segments of a
   * participant erased from the session that began before the erasure are left out
   * (ErasedParticipants): the erasure's second pass deletes such a row that landed after
   * its first, and a composition planned in between must not carry them (not even as a
   * skipped source, whose key names the person).
   */
  async sources(sessionId: string): Promise<{ video: RecordingSource[]; audio: RecordingSource[] }> {
    const [rows, erased] = await Promise.all([this.rows.findForSessionByKinds(sessionId, ['video_segment', 'audio_segment']), this.erased.of([sessionId])]);
    const erasedAt = erased.get(sessionId);
    const kept = rows.filter((r) => {
      const at = erasedAt?.get(r.userId);
      return at === undefined || r.capturedAt.getTime() > at;
    });
    const toSource = (a: MediaArtifactEntity): RecordingSource => ({
      storageKey: a.storageKey,
      rtmsStreamId: a.rtmsStreamId,
      userId: a.userId,
      userName: a.userName,
      capturedAt: a.capturedAt,
      durationMs: a.durationMs,
      bytes: a.bytes,
      sha256: a.sha256,
      meta: a.meta,
    });
    return {
      video: kept.filter((r) => r.kind === 'video_segment').map(toSource),
      audio: kept.filter((r) => r.kind === 'audio_segment').map(toSource),
    };
  }

  /** Streams a stored object into a local file (never whole in memory); `signal` stops it. */
  async download(storageKey: string, filePath: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const obj = await this.storage.get(storageKey);
    await pipeline(obj.stream, createWriteStream(filePath, { mode: 0o600 }), { signal });
  }

  /** Uploads a composed file under its deterministic key; its row is written by commitComposed. */
  async upload(file: ComposedFile, ext: string, filePath: string, signal?: AbortSignal): Promise<ComposedUpload> {
    signal?.throwIfAborted();
    const storageKey = composedKey(file, ext);
    const put = await (this.storage as MediaStorage & AbortablePutFile).putFile(storageKey, filePath, file.contentType, { signal });
    return { ...file, storageKey, bytes: put.bytes, sha256: put.sha256 };
  }

  /**
   * Whether the sources are all still there as they were read, under the session row's
   * lock (SessionsService.lockForMediaWrite): so an erasure, purge or deletion that
   * deleted one of their objects is waited for, and its rows are seen gone. A session
   * gone has its composed folders deleted.
   */
  async checkSources(sessionId: string, sources: readonly RecordingSource[]): Promise<'unchanged' | 'sources_changed' | 'session_gone'> {
    const state = await this.db.transaction(async (em) => {
      if (!(await this.sessions.lockForMediaWrite(sessionId, em))) return 'session_gone' as const;
      return (await changedSources(em, sources)).length > 0 ? ('sources_changed' as const) : ('unchanged' as const);
    });
    if (state === 'session_gone') await this.discardComposedOfDeletedSession(sessionId);
    return state;
  }

  /**
   * Writes the rows of the uploaded files, in one transaction under the session row's lock
   * and only if every source the composition was planned from is still there, unchanged
   * (composed-commit.ts). Otherwise nothing is written and what was uploaded is taken back:
   * - `sources_changed` (an erasure or a retention purge took some): the uploads no row
   *   points at are deleted — the recording, the erased person's audio file. An upload
   *   whose key still has a row (another participant's earlier file) is left for the
   *   retry, which writes object and row again together;
   * - `session_gone` (deleted meanwhile): the session's composed folders are deleted —
   *   its deletion emptied its prefix before this run's uploads landed.
   */
  async commitComposed(
    sessionId: string,
    sources: readonly RecordingSource[],
    uploads: ComposedUpload[],
  ): Promise<{ status: 'stored'; artifacts: ArtifactView[] } | { status: 'sources_changed'; changed: number } | { status: 'session_gone' }> {
    const keys = uploads.map((u) => u.storageKey);
    let outcome: { status: 'stored'; artifacts: ArtifactView[] } | { status: 'sources_changed'; changed: number; orphans: string[] } | { status: 'session_gone' };
    try {
      outcome = await this.db.transaction(async (em) => {
        if (!(await this.sessions.lockForMediaWrite(sessionId, em))) return { status: 'session_gone' as const };
        const changed = await changedSources(em, sources);
        if (changed.length > 0) {
          const kept = new Set((await rowsByKey(em, keys)).map((r) => r.storageKey));
          return { status: 'sources_changed' as const, changed: changed.length, orphans: keys.filter((k) => !kept.has(k)) };
        }
        await this.rows.upsertMany(uploads, em);
        const byKey = new Map((await rowsByKey(em, keys)).map((r) => [r.storageKey, r]));
        return { status: 'stored' as const, artifacts: keys.map((k) => artifactView(byKey.get(k)!)) };
      });
    } catch (err) {
      // Cannot happen under the lock; kept so a session deleted some other way still ends the job.
      if (!isForeignKeyViolation(err)) throw err;
      outcome = { status: 'session_gone' };
    }
    if (outcome.status === 'session_gone') {
      await this.discardComposedOfDeletedSession(sessionId);
      return outcome;
    }
    if (outcome.status === 'sources_changed') {
      for (const key of outcome.orphans) await this.storage.delete(key);
      this.logger.warn(`Session ${sessionId}: ${outcome.changed} source(s) went or changed while composing; ${outcome.orphans.length} upload(s) taken back, nothing stored`);
      return { status: 'sources_changed', changed: outcome.changed };
    }
    return outcome;
  }

  /**
   * Deletes the composed folders of a session whose row is gone (and only then: a session,
   * once deleted, never comes back, so no row can point there any more). A composition
   * that ran while the session was deleted may have uploaded after the deletion emptied
   * the session's prefix. Returns how many objects went.
   */
  async discardComposedOfDeletedSession(sessionId: string): Promise<number> {
    if ((await this.sessions.existingIds([sessionId])).has(sessionId)) return 0;
    let objects = 0;
    for (const kind of COMPOSED_KINDS) objects += (await this.storage.deletePrefix(`${sanitizeSegment(sessionId)}/${kind}/`)).objects;
    if (objects > 0) this.logger.log(`Session ${sessionId} was deleted while its recording was composed: ${objects} composed object(s) deleted`);
    return objects;
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
