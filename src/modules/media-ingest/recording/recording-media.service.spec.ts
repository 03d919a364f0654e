import { SessionsService } from '../../sessions';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import type { DataSource } from 'typeorm';
import type { MediaArtifactEntity } from '../entities/media-artifact.entity';
import type { ErasedParticipants } from '../erasure/erased-participants';
import type { MediaArtifactsRepository } from '../repositories/media-artifacts.repository';
import type { MediaStorage } from '../storage/media-storage';
import { RecordingMediaService } from './recording-media.service';

const SESSION = '11111111-1111-4111-8111-111111111111';
const ERASED_AT = 1_796_500_100_000;

const row = (kind: string, userId: string, capturedAt: number): MediaArtifactEntity =>
  ({ kind, userId, userName: null, storageKey: `${SESSION}/${kind}/u_${userId}/${capturedAt}`, rtmsStreamId: 'st', capturedAt: new Date(capturedAt), durationMs: 1000, bytes: 10, sha256: 'f'.repeat(64), meta: {} }) as unknown as MediaArtifactEntity;

function service(rows: MediaArtifactEntity[], storage: Partial<MediaStorage> = {}) {
  const erased = { of: jest.fn(async () => new Map([[SESSION, new Map([['200', ERASED_AT]])]])) };
  return new RecordingMediaService(
    { findForSessionByKinds: jest.fn(async () => rows) } as unknown as MediaArtifactsRepository,
    storage as MediaStorage,
    {} as DataSource,
    erased as unknown as ErasedParticipants,
    {} as SessionsService,
  );
}

describe('RecordingMediaService', () => {
  it('leaves out the segments of a participant erased from the session that began before the erasure', async () => {
    const svc = service([
      row('video_segment', '100', ERASED_AT - 5000),
      row('video_segment', '200', ERASED_AT - 5000), // in flight during the erasure: its second pass deletes it
      row('audio_segment', '200', ERASED_AT - 1),
      row('audio_segment', '0', ERASED_AT - 5000), // mixed audio is nobody's
      row('video_segment', '200', ERASED_AT + 60_000), // captured after the erasure: new capture, kept
    ]);
    const { video, audio } = await svc.sources(SESSION);
    expect(video.map((s) => [s.userId, s.capturedAt.getTime()])).toEqual([
      ['100', ERASED_AT - 5000],
      ['200', ERASED_AT + 60_000],
    ]);
    expect(audio.map((s) => s.userId)).toEqual(['0']);
    expect(video[0].sha256).toBe('f'.repeat(64));
  });

  it('stops a download when its signal aborts (SIGTERM), instead of waiting for a stalled stream', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'recording-media-'));
    try {
      const stalled = new PassThrough();
      const svc = service([], { get: jest.fn(async () => ({ stream: stalled, size: 100, length: 100 })) });
      const abort = new AbortController();
      const download = svc.download('k', path.join(dir, 'v-00000.h264'), abort.signal);
      setTimeout(() => abort.abort(), 50);
      const settled = await Promise.race([download.then(() => 'done', (e: Error) => e.name), new Promise((r) => setTimeout(() => r('pending'), 3000))]);
      expect(settled).toBe('AbortError');
      expect(stalled.destroyed).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
