import type { MediaBatchPayload, MediaItem } from '../../../jobs/job-payloads';
import type { ArtifactRow } from '../repositories/media-artifacts.repository';
import type { TranscriptRow } from '../repositories/transcript-segments.repository';
import { MediaSaverService } from './media-saver.service';

/**
 * An item whose timestamp is not a media timestamp (queued or spilled before the parser
 * refused those) costs only itself: its Invalid Date would fail the one statement that
 * records the whole batch's rows.
 */
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]).toString('base64');

function saver() {
  const upserted: ArtifactRow[] = [];
  const transcripts: TranscriptRow[] = [];
  const puts: string[] = [];
  const lost: Array<{ reason: string; batch: MediaBatchPayload }> = [];
  const svc = new MediaSaverService(
    { manager: {}, transaction: async (fn: (em: unknown) => Promise<unknown>) => fn({}) } as never,
    { put: async (key: string, body: Buffer) => (puts.push(key), { bytes: body.length, sha256: 'x' }), delete: async () => undefined } as never,
    { mget: async (...keys: string[]) => keys.map(() => null) } as never,
    { get: () => ({ prefix: 't' }) } as never,
    { counter: () => ({ inc: () => undefined }), histogram: () => ({ observe: () => undefined }) } as never,
    { existingIds: async (ids: string[]) => new Set(ids) } as never,
    {} as never,
    { recordMany: async () => undefined } as never,
    {
      upsertMany: async (rows: ArtifactRow[]) => {
        // What Postgres does with an Invalid Date in the batch's one INSERT.
        if (rows.some((r) => Number.isNaN(r.capturedAt.getTime()))) throw new Error('invalid input syntax for type timestamp with time zone: "Invalid Date"');
        upserted.push(...rows);
        return new Map(rows.map((r) => [r.storageKey, r.storageKey]));
      },
      findByStorageKey: async () => null,
    } as never,
    {
      insertNew: async (rows: TranscriptRow[]) => {
        if (rows.some((r) => !Number.isSafeInteger(r.timestampMs) || !Number.isSafeInteger(r.startMs))) throw new Error('invalid input syntax for type bigint');
        transcripts.push(...rows);
        return rows;
      },
    } as never,
    {} as never,
    { record: async (reason: string, b: MediaBatchPayload) => void lost.push({ reason, batch: b }) } as never,
    { noteWritten: () => undefined, noteUnavailable: () => undefined } as never,
    {} as never,
    {} as never,
    { of: async () => new Map() } as never,
    { purgedOf: async () => new Map() } as never,
  );
  return { svc, upserted, transcripts, puts, lost };
}

const batch = (msgType: number, timestamps: number[], extra: Partial<MediaItem> = {}): MediaBatchPayload => ({
  streams: [{ sessionId: 's', rtmsStreamId: 'r', items: timestamps.map((timestamp, i) => ({ msgType, userId: i + 1, userName: `u${i}`, timestamp, data: msgType === 15 ? JPEG : `line ${i}`, receivedAt: 1, ...extra })) }],
});

describe('MediaSaverService: timestamps', () => {
  it.each([
    ['frames', 15, (s: MediaSaverService, p: MediaBatchPayload) => s.saveFrames(p)],
    ['chat', 18, (s: MediaSaverService, p: MediaBatchPayload) => s.saveChat(p)],
  ])('%s: an item with a timestamp out of range is lost on its own (rejected, nothing stored for it); the others are saved', async (_k, msgType, save) => {
    const { svc, upserted, puts, lost } = saver();
    await expect(save(svc, batch(msgType as number, [1_764_000_000_000, 1e19, 1_764_000_000_040]))).resolves.toBe(2);
    expect(upserted.map((r) => r.capturedAt.getTime())).toEqual([1_764_000_000_000, 1_764_000_000_040]);
    expect(puts).toHaveLength(2);
    expect(lost.map((l) => [l.reason, l.batch.streams[0].items.map((i) => i.timestamp)])).toEqual([['rejected', [1e19]]]);
  });

  it('H.264 segments: the same, by their first frame', async () => {
    const { svc, upserted, lost } = saver();
    const seg = (firstTs: number) => ({ frames: 1, firstTs, lastTs: firstTs, frameTs: [0], durationMs: 40 });
    const p: MediaBatchPayload = {
      streams: [{ sessionId: 's', rtmsStreamId: 'r', items: [1_764_000_000_000, -5].map((ts, i) => ({ msgType: 15, userId: i, timestamp: ts, data: JPEG, receivedAt: 1, segment: seg(ts) })) }],
    };
    await expect(svc.saveFrames(p)).resolves.toBe(1);
    expect(upserted).toHaveLength(1);
    expect(lost).toHaveLength(1);
  });

  it('transcripts: a line with a bad timestamp is lost on its own; a bad start_time/end_time falls back to the line timestamp', async () => {
    const { svc, transcripts, lost } = saver();
    const p = batch(17, [1_764_000_000_000, 1e19, 1_764_000_000_500]);
    p.streams[0].items[2].meta = { start_time: 1e19, end_time: 1_764_000_000_900 };
    await expect(svc.saveTranscripts(p)).resolves.toBe(2);
    expect(transcripts.map((t) => [t.timestampMs, t.startMs, t.endMs])).toEqual([
      [1_764_000_000_000, 1_764_000_000_000, 1_764_000_000_000],
      [1_764_000_000_500, 1_764_000_000_500, 1_764_000_000_900],
    ]);
    expect(lost.map((l) => l.reason)).toEqual(['rejected']);
  });
});
