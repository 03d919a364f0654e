import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { MediaArtifactsRepository } from '../repositories/media-artifacts.repository';
import { decodeCursor, encodeCursor, Page } from '../../../common/http/pagination';
import { SessionsService } from '../../sessions';
import { ListArtifactsQuery } from '../dto/artifacts.query';
import { MediaArtifactEntity } from '../entities/media-artifact.entity';
import { TranscriptSegmentEntity } from '../entities/transcript-segment.entity';
import { ByteRange, GetResult, MEDIA_STORAGE, MediaStorage, StorageObjectNotFoundError } from '../storage/media-storage';
import { TranscriptLine } from './transcript-format';
import { MediaError } from '../media.errors';
import { isStorageUnavailable, storageErrorSummary } from '../storage/storage-errors';
import { Logger } from '@nestjs/common';
import { MediaErrorCode } from '../../../common/errors/error-codes';

export function artifactView(a: MediaArtifactEntity) {
  return {
    id: a.id,
    session_id: a.sessionId,
    rtms_stream_id: a.rtmsStreamId,
    kind: a.kind,
    user_id: a.userId,
    user_name: a.userName,
    storage_key: a.storageKey,
    content_type: a.contentType,
    bytes: a.bytes,
    sha256: a.sha256,
    captured_at: a.capturedAt.toISOString(),
    duration_ms: a.durationMs,
    meta: a.meta,
    created_at: a.createdAt.toISOString(),
  };
}
export type ArtifactView = ReturnType<typeof artifactView>;

const notFound = (id: string) => new MediaError(MediaErrorCode.ArtifactNotFound, `Artifact ${id} does not exist`);

/** Reads artifacts and transcripts (the API side of media-ingest). */
@Injectable()
export class ArtifactsService {
  constructor(
    @InjectRepository(MediaArtifactEntity) private readonly artifacts: Repository<MediaArtifactEntity>,
    private readonly rows: MediaArtifactsRepository,
    @InjectRepository(TranscriptSegmentEntity) private readonly transcripts: Repository<TranscriptSegmentEntity>,
    @Inject(MEDIA_STORAGE) private readonly storage: MediaStorage,
    private readonly sessions: SessionsService,
  ) {}

  /** Oldest first by captured_at, keyset-paginated over (captured_at, id). */
  async list(sessionId: string, q: ListArtifactsQuery, owner?: string | null): Promise<Page<ArtifactView>> {
    await this.sessions.get(sessionId, owner);
    const limit = q.limit ?? 100;
    const cursor = decodeCursor(q.cursor);
    const rows = await this.rows.findPageForSession(sessionId, { kind: q.kind, userId: q.user_id, from: q.from, to: q.to }, limit, cursor);
    const hasMore = rows.length > limit;
    const page = hasMore ? rows.slice(0, limit) : rows;
    const last = page[page.length - 1];
    return { data: page.map(artifactView), next_cursor: hasMore && last ? encodeCursor(last.capturedAt, last.id) : null };
  }

  /** The artifact; with an `owner`, one of another owner's session is not found either. */
  async get(id: string, owner?: string | null): Promise<MediaArtifactEntity> {
    const a = await this.artifacts.findOne({ where: { id } });
    if (!a) throw notFound(id);
    if (owner && !(await this.sessions.existingIds([a.sessionId], owner)).has(a.sessionId)) throw notFound(id);
    return a;
  }

  async open(a: MediaArtifactEntity, range?: ByteRange): Promise<GetResult> {
    try {
      return await this.storage.get(a.storageKey, range);
    } catch (err) {
      if (err instanceof StorageObjectNotFoundError) throw new MediaError(MediaErrorCode.ArtifactContentMissing, `The stored object of artifact ${a.id} is missing`);
      // An outage, not a bug: 503 tells the caller (and the console) to try again later.
      if (isStorageUnavailable(err)) {
        new Logger(ArtifactsService.name).warn(`Artifact ${a.id}: storage unavailable: ${storageErrorSummary(err)}`);
        throw new MediaError(MediaErrorCode.StorageUnavailable, 'Storage cannot be reached: try again later');
      }
      throw err;
    }
  }

  async transcript(sessionId: string, owner?: string | null): Promise<TranscriptLine[]> {
    await this.sessions.get(sessionId, owner);
    const rows = await this.transcripts.find({ where: { sessionId }, order: { startMs: 'ASC', timestampMs: 'ASC', id: 'ASC' } });
    return rows.map((r) => ({ userId: r.userId, userName: r.userName, text: r.text, startMs: r.startMs, endMs: r.endMs, language: r.language }));
  }
}
