import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { AudioSpool } from '../src/modules/media-ingest/audio/audio-spool';
import { SpooledAudioStore } from '../src/modules/media-ingest/audio/audio-spool.store';
import { SpoolFiles } from '../src/modules/media-ingest/audio/spool-files';
import { AudioSegmentsRepository, NewSegment } from '../src/modules/media-ingest/repositories/audio-segments.repository';
import { ArtifactRow, MediaArtifactsRepository } from '../src/modules/media-ingest/repositories/media-artifacts.repository';
import { SessionEntity } from '../src/modules/sessions/entities/session.entity';

/**
 * Against the real, migrated Postgres: a packet arriving for a sealed segment (its WAV
 * final, its parts pruned) is late audio — counted, and not stored, so no part row pins
 * its spool file until the session is deleted; and values Postgres cannot take are
 * refused before the statement, naming themselves, rather than failing it for every row.
 */
describe('audio: late parts and values out of range (Postgres)', () => {
  const T0 = 1_750_690_000_000;
  let ds: DataSource;
  let audio: AudioSegmentsRepository;
  let dir: string;

  beforeAll(async () => {
    ds = await new DataSource(buildDataSourceOptions(process.env.DATABASE_URL ?? '', 4)).initialize();
    audio = new AudioSegmentsRepository(ds);
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'audio-late-'));
  });
  afterAll(async () => {
    await ds.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const newSession = async (): Promise<string> => (await ds.getRepository(SessionEntity).save({ meetingId: '81234567890' })).id;
  const seg = (sessionId: string, rtmsStreamId: string, userId: string, segmentStartMs = T0): NewSegment => ({
    key: `${rtmsStreamId}|${userId}|${segmentStartMs}`,
    sessionId,
    rtmsStreamId,
    userId,
    userName: `U${userId}`,
    segmentStartMs,
    segmentMs: 2000,
    sampleRate: 16000,
    channels: 1,
  });

  it('insertParts stores no part for a sealed segment (and reports it sealed); its spool file is not held by it', async () => {
    const host = `h-${randomUUID().slice(0, 8)}`;
    const session = await newSession();
    const stream = `late-${randomUUID().slice(0, 8)}`;
    const segs = [seg(session, stream, '1'), seg(session, stream, '2')];
    await audio.insertSegments(segs, host);
    const ids = await audio.findIds(segs, host);
    const [open, sealed] = segs.map((s) => ids.get(s.key)!);
    await ds.query(`UPDATE audio_segments SET status = 'sealed' WHERE id = $1`, [sealed]);
    const part = (segmentId: string) => ({ segmentId, packetTs: [T0 + 100, T0 + 120], packetLen: [640, 640], fileOffset: 0, touch: true });
    const status = await audio.insertParts([part(open), part(sealed)], 'audio-9-late-0.pcm');
    expect(status).toEqual(new Map([[open, 'open'], [sealed, 'sealed']]));
    expect((await audio.findParts([open, sealed])).map((p) => p.segment_id)).toEqual([open]);
    expect((await ds.query(`SELECT status FROM audio_segments WHERE id = $1`, [sealed]))[0].status).toBe('sealed');
    await ds.query(`DELETE FROM audio_parts WHERE segment_id = $1`, [open]);
    expect(await audio.spoolFilesInUse(['audio-9-late-0.pcm'])).toEqual(new Set());
  });

  it('the spool counts such packets as late and keeps nothing of them', async () => {
    const host = `h-${randomUUID().slice(0, 8)}`;
    const session = await newSession();
    const stream = `late-${randomUUID().slice(0, 8)}`;
    const files = new SpoolFiles(dir);
    const store = new SpooledAudioStore(ds, files, host);
    const counts = { late: 0, saved: 0 };
    const spool = new AudioSpool(
      store,
      { segmentsDue: async () => undefined, saved: (p) => void (counts.saved += p.length), discarded: () => undefined, late: (n) => void (counts.late += n), flushFailed: () => undefined, flushed: () => undefined },
      { flushMs: 1e9, flushBytes: 1 << 30, maxBufferedBytes: 1 << 30, touchEveryMs: 1000, cacheIdleMs: 1e9 },
    );
    const s = spool.open({ sessionId: session, rtmsStreamId: stream, segmentMs: 2000, sampleRate: 16000, channels: 1 });
    s.append('1', 'Ann', { ts: T0 + 100, pcm: Buffer.alloc(640, 1), receivedAt: Date.now() });
    expect(await spool.flush()).toBe(true);
    const [id] = (await audio.findIds([seg(session, stream, '1')], host)).values();
    await ds.query(`UPDATE audio_segments SET status = 'sealed' WHERE id = $1`, [id]);
    await ds.query(`DELETE FROM audio_parts WHERE segment_id = $1`, [id]); // (what sealWritten does)
    s.append('1', 'Ann', { ts: T0 + 120, pcm: Buffer.alloc(640, 2), receivedAt: Date.now() });
    expect(await spool.flush()).toBe(true);
    expect(counts).toEqual({ saved: 1, late: 1 });
    expect(await audio.findParts([id])).toEqual([]);
    expect(spool.cachedPcmBytes).toBe(640); // the first part only (its segment state is still open here)
    await spool.close();
    await files.close();
  });

  it('values Postgres cannot take are refused before the statement, as RangeError naming them', async () => {
    const host = `h-${randomUUID().slice(0, 8)}`;
    const session = await newSession();
    const stream = `late-${randomUUID().slice(0, 8)}`;
    await expect(audio.insertSegments([seg(session, stream, '1', 1e19)], host)).rejects.toThrow(RangeError);
    await audio.insertSegments([seg(session, stream, '1')], host);
    const [id] = (await audio.findIds([seg(session, stream, '1')], host)).values();
    await expect(audio.insertParts([{ segmentId: id, packetTs: [T0, 1e19], packetLen: [640, 640], fileOffset: 0, touch: false }], 'f.pcm')).rejects.toThrow(RangeError);
    const row: ArtifactRow = {
      sessionId: session,
      rtmsStreamId: stream,
      kind: 'video_frame',
      userId: '1',
      userName: 'Ann',
      storageKey: `${session}/video/Ann_1/bad.jpg`,
      contentType: 'image/jpeg',
      bytes: 1,
      sha256: 'a'.repeat(64),
      capturedAt: new Date(1e19),
      durationMs: null,
      meta: {},
    };
    await expect(new MediaArtifactsRepository(ds).upsertMany([row])).rejects.toThrow(/bad\.jpg: captured_at/);
  });
});
