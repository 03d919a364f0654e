import { RetentionSweepService, STORED_REFRESH_MS } from './retention-sweep.service';
import type { RetentionRunStats } from './retention-stats';

const DAY = 86_400_000;
const past = new Date(Date.now() - 400 * DAY);
const row = (patch: Record<string, unknown> = {}) => ({
  id: 's1',
  owner: null,
  legalHoldAt: null,
  retentionFrom: past,
  capturePolicy: {},
  mediaPurgedAt: null,
  transcriptPurgedAt: null,
  eventsPurgedAt: null,
  ...patch,
});
type Batch = { objects: number; bytes: number; rows: Record<string, number>; more: boolean };
const none: Batch = { objects: 0, bytes: 0, rows: {}, more: false };

/**
 * The sweep against stand-ins for its collaborators. `locks`: the session row each
 * successive lockForPurge sees (the last one repeats); `batches`: what each successive
 * media batch deletes (then nothing).
 */
function setup(opts: { locks?: Array<Record<string, unknown>>; batches?: Batch[]; strays?: { objects: number; bytes: number }; taken?: { objects: number; bytes: number; rows: Record<string, number> } } = {}) {
  const locks = opts.locks ?? [row()];
  let lockCalls = 0;
  const batches = [...(opts.batches ?? [])];
  const sessions = {
    lockForPurge: jest.fn(async () => locks[Math.min(lockCalls++, locks.length - 1)]),
    markPurged: jest.fn(async () => undefined),
    deleteSession: jest.fn(async () => true),
    deleteEventsBatch: jest.fn(async () => 0),
    deleteParticipantsBatch: jest.fn(async () => 0),
  };
  const media = {
    purgeBatch: jest.fn(async () => batches.shift() ?? none),
    deleteStrays: jest.fn(async () => opts.strays ?? { objects: 0, bytes: 0 }),
    storedByCategory: jest.fn(async () => ({ media: { objects: 3, bytes: 30 }, transcript: { objects: 1, bytes: 1 } })),
  };
  const added: Array<{ objects: number }> = [];
  const purges = {
    add: jest.fn(async (_s: string, _c: string, delta: { objects: number }) => void added.push(delta)),
    take: jest.fn(async () => ({ ...(opts.taken ?? { objects: 0, bytes: 0, rows: {} }), rows: { ...(opts.taken?.rows ?? {}) } })),
  };
  const deletionLog = { record: jest.fn(async () => ({ id: 'd1' })) };
  const outbox = { deleteOfSession: jest.fn(async () => ({})) };
  let last: RetentionRunStats | null = null;
  const stats = { save: jest.fn(async (s: RetentionRunStats) => void (last = JSON.parse(JSON.stringify(s)) as RetentionRunStats)), last: jest.fn(async () => last) };
  const redis = { set: jest.fn(async () => 'OK'), eval: jest.fn(async () => 1) };
  const db = { transaction: async (fn: (em: unknown) => unknown) => fn({}) };
  const config = { get: (k: string) => (k === 'queues' ? { prefix: 'p' } : { mediaDays: 30, transcriptDays: 90, eventsDays: 365, batchSize: 200 }) };
  const sessionsDue = { ...sessions, findDue: jest.fn(async () => []) };
  const aged = { prune: jest.fn(async () => ({})) };
  const svc = new RetentionSweepService(db as never, redis as never, sessionsDue as never, media as never, purges as never, deletionLog as never, stats as never, config as never, outbox as never, aged as never);
  return { svc, media, deletionLog, sessions, purges, added, stats };
}

describe('RetentionSweepService.purgeSession: the last step', () => {
  it('a legal hold placed after the last media batch: nothing more is deleted (no stray folder emptied) and nothing is logged', async () => {
    const { svc, media, deletionLog, sessions } = setup({ locks: [row(), row({ legalHoldAt: new Date() })] });
    await expect(svc.purgeSession('s1', 'media')).resolves.toEqual({ purged: false });
    expect(media.deleteStrays).not.toHaveBeenCalled();
    expect(sessions.markPurged).not.toHaveBeenCalled();
    expect(deletionLog.record).not.toHaveBeenCalled();
  });

  it('the last category, then held: the session folder is not deleted', async () => {
    const done = { mediaPurgedAt: new Date(), transcriptPurgedAt: new Date() };
    const { svc, media, deletionLog, sessions } = setup({ locks: [row(done), row({ ...done, legalHoldAt: new Date() })] });
    await expect(svc.purgeSession('s1', 'events')).resolves.toEqual({ purged: false });
    expect(media.deleteStrays).not.toHaveBeenCalled();
    expect(sessions.deleteSession).not.toHaveBeenCalled();
    expect(deletionLog.record).not.toHaveBeenCalled();
  });

  it('restarted after the last media batch (clock null: capturing again): its new media folders are left alone', async () => {
    const { svc, media } = setup({ locks: [row(), row({ retentionFrom: null })] });
    await expect(svc.purgeSession('s1', 'media')).resolves.toEqual({ purged: false });
    expect(media.deleteStrays).not.toHaveBeenCalled();
  });

  it('counts the stray objects in the entry: objects and bytes with the rows, and in details', async () => {
    const { svc, deletionLog } = setup({ strays: { objects: 2, bytes: 20 }, taken: { objects: 5, bytes: 50, rows: { media_artifacts: 5 } } });
    await expect(svc.purgeSession('s1', 'media')).resolves.toMatchObject({ purged: true, totals: { objects: 7, bytes: 70 } });
    expect(deletionLog.record).toHaveBeenCalledTimes(1);
    expect(deletionLog.record.mock.calls[0]).toEqual([
      expect.objectContaining({ categories: ['media'], objectsDeleted: 7, bytesDeleted: 70, rowsDeleted: { media_artifacts: 5 }, details: expect.objectContaining({ stray_objects_deleted: 2 }) }),
      expect.anything(),
    ]);
  });

  it('strays alone are logged (no row went with them)', async () => {
    const { svc, deletionLog } = setup({ strays: { objects: 1, bytes: 9 } });
    await expect(svc.purgeSession('s1', 'media')).resolves.toMatchObject({ purged: true });
    expect(deletionLog.record.mock.calls[0]).toEqual([expect.objectContaining({ objectsDeleted: 1, bytesDeleted: 9, details: expect.objectContaining({ stray_objects_deleted: 1 }) }), expect.anything()]);
  });

  it('a row that arrived late is purged first and the strays are deleted once, when nothing is left, and logged', async () => {
    // The batches delete nothing, then a late row shows up in the last step: it goes ('again'), then the last step runs again.
    const late = { objects: 1, bytes: 4, rows: { media_artifacts: 1 }, more: true };
    const { svc, media, deletionLog, added } = setup({ batches: [none, late], strays: { objects: 3, bytes: 3 } });
    await expect(svc.purgeSession('s1', 'media')).resolves.toMatchObject({ purged: true });
    expect(added).toEqual([late]);
    expect(media.deleteStrays).toHaveBeenCalledTimes(1);
    expect(deletionLog.record.mock.calls[0]).toEqual([expect.objectContaining({ details: expect.objectContaining({ stray_objects_deleted: 3 }) }), expect.anything()]);
  });

  it('the last category deletes the session folder with the row and counts what was in it', async () => {
    const done = { mediaPurgedAt: new Date(), transcriptPurgedAt: new Date() };
    const { svc, media, deletionLog, sessions } = setup({ locks: [row(done)], strays: { objects: 1, bytes: 5 } });
    await expect(svc.purgeSession('s1', 'events')).resolves.toMatchObject({ purged: true, sessionDeleted: true });
    expect(media.deleteStrays).toHaveBeenCalledWith('s1', 'session');
    expect(sessions.deleteSession).toHaveBeenCalled();
    expect(deletionLog.record.mock.calls[0]).toEqual([expect.objectContaining({ categories: ['events', 'session'], objectsDeleted: 1, bytesDeleted: 5 }), expect.anything()]);
  });
});

describe('RetentionSweepService.sweep: what is stored', () => {
  it(`is measured at most every ${STORED_REFRESH_MS / 60_000} minutes hub-wide; sweeps in between report the last measurement`, async () => {
    const { svc, media, stats } = setup();
    const first = await svc.sweep();
    expect(first.stored).toEqual({ media: { objects: 3, bytes: 30 }, transcript: { objects: 1, bytes: 1 } });
    const second = await svc.sweep();
    expect(media.storedByCategory).toHaveBeenCalledTimes(1);
    expect(second).toMatchObject({ stored: first.stored, storedAt: first.storedAt });
    // Once the last measurement is old enough, the next sweep measures again.
    const last = (await stats.last())!;
    stats.last.mockResolvedValueOnce({ ...last, storedAt: new Date(Date.now() - STORED_REFRESH_MS - 1000).toISOString() });
    await svc.sweep();
    expect(media.storedByCategory).toHaveBeenCalledTimes(2);
  });
});
