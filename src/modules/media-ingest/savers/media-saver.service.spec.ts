import type { MediaBatchPayload } from '../../../jobs/job-payloads';
import type { ArtifactRow, StreamObject } from '../repositories/media-artifacts.repository';
import { MediaSaverService } from './media-saver.service';

const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]).toString('base64');

/** A saver whose storage refuses one key (as a file system refuses a name too long for it). */
function saver(refuse: (key: string) => boolean, erasedOf = new Map<string, Map<string, number>>(), purgedOf = new Map<string, Set<string>>()) {
  const erased = { of: async () => erasedOf };
  const upserted: ArtifactRow[] = [];
  const lost: Array<{ reason: string; batch: MediaBatchPayload }> = [];
  const storage = {
    put: async (key: string, body: Buffer) => {
      if (refuse(key)) throw Object.assign(new Error(`ENAMETOOLONG: name too long, open '${key}'`), { code: 'ENAMETOOLONG' });
      return { bytes: body.length, sha256: 'x' };
    },
    delete: async () => undefined,
  };
  const svc = new MediaSaverService(
    { manager: {} } as never,
    storage as never,
    { mget: async (...keys: string[]) => keys.map(() => null) } as never,
    { get: () => ({ prefix: 't' }) } as never,
    { counter: () => ({ inc: () => undefined }), histogram: () => ({ observe: () => undefined }) } as never,
    { existingIds: async (ids: string[]) => new Set(ids) } as never,
    {} as never,
    {} as never,
    { upsertMany: async (rows: ArtifactRow[]) => (upserted.push(...rows), new Map(rows.map((r) => [r.storageKey, r.storageKey]))) } as never,
    {} as never,
    {} as never,
    { record: async (reason: string, b: MediaBatchPayload) => void lost.push({ reason, batch: b }) } as never,
    { noteWritten: () => undefined, noteUnavailable: () => undefined } as never,
    {} as never,
    {} as never,
    erased as never,
    { purgedOf: async () => purgedOf } as never,
  );
  return { svc, upserted, lost };
}

const batch = (msgType: number, names: string[]): MediaBatchPayload => ({
  streams: names.map((n, i) => ({
    sessionId: `s${i}`,
    rtmsStreamId: `r${i}`,
    items: [{ msgType, userId: i + 1, userName: n, timestamp: 1000 + i, data: msgType === 18 ? `hello ${n}` : JPEG, receivedAt: Date.now() }],
  })),
});

describe('MediaSaverService: one bad item of a multi-stream batch', () => {
  it.each([
    ['frames', 15, (s: MediaSaverService, p: MediaBatchPayload) => s.saveFrames(p)],
    ['chat', 18, (s: MediaSaverService, p: MediaBatchPayload) => s.saveChat(p)],
  ])('%s: the others are stored and recorded; the refused one is recorded as lost (rejected), not retried', async (_k, msgType, save) => {
    const { svc, upserted, lost } = saver((key) => key.includes('Bad_'));
    await expect(save(svc, batch(msgType as number, ['Ann', 'Bad', 'Cy']))).resolves.toBe(2);
    expect(upserted.map((r) => r.userName).sort()).toEqual(['Ann', 'Cy']);
    expect(lost).toHaveLength(1);
    expect(lost[0].reason).toBe('rejected');
    expect(lost[0].batch.streams.flatMap((st) => st.items.map((i) => i.userName))).toEqual(['Bad']);
  });
});

describe('MediaSaverService: media of a category retention already purged', () => {
  it('is not saved (the purge never runs again); the other category, and other sessions, are', async () => {
    const frame = (sessionId: string) => ({ sessionId, rtmsStreamId: `r-${sessionId}`, items: [{ msgType: 15, userId: 1, userName: 'Ann', timestamp: 1000, data: JPEG, receivedAt: 1 }] });
    const chat = (sessionId: string) => ({ sessionId, rtmsStreamId: `r-${sessionId}`, items: [{ msgType: 18, userId: 1, userName: 'Ann', timestamp: 1000, data: 'hi', receivedAt: 1 }] });
    // s0: its media purged, its transcript (and chat) not yet; s1: nothing purged.
    const { svc, upserted } = saver(() => false, new Map(), new Map([['s0', new Set(['media'])]]));
    await expect(svc.saveFrames({ streams: [frame('s0'), frame('s1')] })).resolves.toBe(1);
    await expect(svc.saveChat({ streams: [chat('s0')] })).resolves.toBe(1);
    expect(upserted.map((r) => `${r.sessionId}:${r.kind}`).sort()).toEqual(['s0:chat', 's1:video_frame']);
  });
});

describe('MediaSaverService: participants erased after their media was received', () => {
  it.each([
    ['frames', 15, (s: MediaSaverService, p: MediaBatchPayload) => s.saveFrames(p)],
    ['chat', 18, (s: MediaSaverService, p: MediaBatchPayload) => s.saveChat(p)],
  ])('%s: what they sent before the erasure is not saved; what they sent after it, and everyone else, is', async (_k, msgType, save) => {
    const erasedAt = 5_000_000;
    const item = (userId: number, receivedAt: number) => ({ msgType: msgType as number, userId, userName: `u${userId}`, timestamp: receivedAt, data: msgType === 18 ? `hi ${receivedAt}` : JPEG, receivedAt });
    const { svc, upserted } = saver(() => false, new Map([['s0', new Map([['7', erasedAt]])]]));
    const p: MediaBatchPayload = {
      streams: [
        { sessionId: 's0', rtmsStreamId: 'r0', items: [item(7, erasedAt - 10), item(7, erasedAt), item(7, erasedAt + 10), item(8, erasedAt - 10)] },
        { sessionId: 's1', rtmsStreamId: 'r1', items: [item(7, erasedAt - 10)] },
      ],
    };
    await expect(save(svc, p)).resolves.toBe(3);
    expect(upserted.map((r) => `${r.sessionId}:${r.userId}:${r.capturedAt.getTime()}`).sort()).toEqual([`s0:7:${erasedAt + 10}`, `s0:8:${erasedAt - 10}`, `s1:7:${erasedAt - 10}`]);
  });
});

describe('MediaSaverService.purgeStream', () => {
  /** A saver whose stream rows are listed as `listed` and deleted as `deleted` (what was committed by then). */
  function purger(listed: StreamObject[], deleted: StreamObject[], storageDelete?: (key: string) => Promise<void>) {
    const deletedKeys: string[] = [];
    const logged: Array<Record<string, unknown>> = [];
    const svc = new MediaSaverService(
      { transaction: async (fn: (em: unknown) => Promise<unknown>) => fn({}) } as never,
      { delete: storageDelete ?? (async (key: string) => void deletedKeys.push(key)) } as never,
      { set: async () => 'OK' } as never,
      { get: () => ({ prefix: 't' }) } as never,
      {} as never,
      {} as never,
      { findByStreamId: async () => null } as never,
      {} as never,
      { objectsForStream: async () => listed, deleteForStream: async () => deleted } as never,
      { deleteForStream: async () => 0 } as never,
      { deleteForStream: async () => ({ audio_segments: 0, audio_parts: 0 }) } as never,
      {} as never,
      {} as never,
      {} as never,
      { record: async (input: Record<string, unknown>) => void logged.push(input) } as never,
      { of: async () => new Map() } as never,
      {} as never,
    );
    return { svc, deletedKeys, logged };
  }
  const obj = (storageKey: string, bytes: number, rowVersion: string): StreamObject => ({ storageKey, bytes, rowVersion });

  it('also deletes the objects of rows committed or rewritten after its listing, and counts each object once', async () => {
    const { svc, deletedKeys, logged } = purger(
      [obj('a', 10, '1'), obj('b', 20, '1')],
      // a: as listed; b: rewritten since (re-saved); c: committed since.
      [obj('a', 10, '1'), obj('b', 25, '2'), obj('c', 30, '3')],
    );
    await expect(svc.purgeStream('r1')).resolves.toBe(3);
    expect(deletedKeys).toEqual(['a', 'b', 'b', 'c']);
    expect(logged).toEqual([expect.objectContaining({ objectsDeleted: 3, bytesDeleted: 10 + 25 + 30, rowsDeleted: { media_artifacts: 3, transcript_segments: 0, audio_segments: 0, audio_parts: 0 } })]);
  });

  it('fails before logging anything when a late object cannot be deleted (its transaction rolls back; the job retries)', async () => {
    const { svc, logged } = purger([], [obj('late', 5, '9')], async () => {
      throw new Error('storage down');
    });
    await expect(svc.purgeStream('r1')).rejects.toThrow('storage down');
    expect(logged).toEqual([]);
  });
});
