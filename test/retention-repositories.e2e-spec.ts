import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../src/database/data-source-options';
import { RetentionPurgesRepository } from '../src/modules/retention/repositories/retention-purges.repository';
import { SessionRetentionRepository } from '../src/modules/sessions/repositories/session-retention.repository';

/**
 * The retention sweep's SQL against the real, migrated Postgres: which sessions are due
 * (config vs the session's own numbers, 0 = forever, holds, purge markers, sessions still
 * streaming), in which order, and the purge progress counts. Other suites share the
 * database, so results are narrowed to this file's sessions, removed in afterAll.
 */
describe('retention repositories (real Postgres)', () => {
  let ds: DataSource;
  let repo: SessionRetentionRepository;
  let purges: RetentionPurgesRepository;
  const created: string[] = [];
  const DAY = 86_400_000;

  beforeAll(async () => {
    ds = await new DataSource(buildDataSourceOptions(process.env.DATABASE_URL as string, 2)).initialize();
    repo = new SessionRetentionRepository(ds);
    purges = new RetentionPurgesRepository();
  });

  afterAll(async () => {
    if (created.length > 0) await ds.query(`DELETE FROM sessions WHERE id = ANY($1::uuid[])`, [created]);
    await ds.destroy();
  });

  /** A stopped session whose retention clock started `ageDays` ago (null: still streaming). */
  async function session(ageDays: number | null, retention: Record<string, number | null> = {}, extra: { held?: boolean; mediaPurged?: boolean } = {}): Promise<string> {
    const policy = { retention: { media_days: null, transcript_days: null, events_days: null, zero: false, ...retention } };
    const [row]: Array<{ id: string }> = await ds.query(
      `INSERT INTO sessions (platform, product, status, capture_policy, metadata, version, retention_from, legal_hold_at, media_purged_at)
       VALUES ('zoom', 'meeting', $1, $2::jsonb, '{}', 1, $3::timestamptz, $4::timestamptz, $5::timestamptz) RETURNING id`,
      [
        ageDays === null ? 'streaming' : 'stopped',
        JSON.stringify(policy),
        ageDays === null ? null : new Date(Date.now() - ageDays * DAY),
        extra.held ? new Date() : null,
        extra.mediaPurged ? new Date() : null,
      ],
    );
    created.push(row.id);
    return row.id;
  }

  const mine = (due: Array<{ id: string }>) => due.map((d) => d.id).filter((id) => created.includes(id));

  it('lists due sessions longest-expired first, from the config and from their own numbers, and leaves the rest', async () => {
    const byConfigOld = await session(40); // media (30 d) expired 10 days ago
    const ownShort = await session(2, { media_days: 1 }); // expired 1 day ago
    const byConfigNewer = await session(35); // expired 5 days ago
    const ownFractional = await session(0.5, { media_days: 0.25 }); // 6 h: expired 6 h ago
    await session(100, { media_days: 0 }); // forever, whatever the config
    await session(40, {}, { held: true });
    await session(40, {}, { mediaPurged: true });
    await session(null); // still streaming: no clock
    await session(20); // not yet (30 d)
    await session(5, { media_days: 10 }); // its own number is longer than its age

    const due = await repo.findDue('media', 30, 10_000);
    expect(mine(due)).toEqual([byConfigOld, byConfigNewer, ownShort, ownFractional]);
    const expiry = due.find((d) => d.id === ownShort)!.expiredAt.getTime();
    expect(Math.abs(expiry - (Date.now() - DAY))).toBeLessThan(60_000);
  });

  it('with the config at 0 (forever) lists only sessions that set a number of their own', async () => {
    const own = await session(3, { transcript_days: 2 });
    await session(400);
    expect(mine(await repo.findDue('transcript', 0, 10_000))).toEqual([own]);
  });

  it('keeps to the limit, taking the longest-expired of both lists', async () => {
    const due = await repo.findDue('media', 30, 1);
    expect(due).toHaveLength(1);
    const all = await repo.findDue('media', 30, 10_000);
    expect(due[0].expiredAt.getTime()).toBe(Math.min(...all.map((d) => d.expiredAt.getTime())));
  });

  it("tells the savers which of a batch's sessions have a category purged (one query over the batch's sessions)", async () => {
    const purged = await session(40, {}, { mediaPurged: true });
    const fresh = await session(40);
    await ds.query(`UPDATE sessions SET transcript_purged_at = now() WHERE id = $1`, [purged]);
    const got = await repo.purgedOf([purged, fresh, purged, '00000000-0000-4000-8000-000000000000']);
    expect([...got.keys()]).toEqual([purged]);
    expect([...got.get(purged)!].sort()).toEqual(['media', 'transcript']);
    expect(await repo.purgedOf([])).toEqual(new Map());
  });

  it('adds the counts of every batch of a purge and hands them over once', async () => {
    const id = await session(40);
    await ds.transaction((em) => purges.add(id, 'media', { objects: 5, bytes: 500, rows: { media_artifacts: 5 } }, em));
    await ds.transaction((em) => purges.add(id, 'media', { objects: 0, bytes: 0, rows: { audio_segments: 2, audio_parts: 7 } }, em));
    await ds.transaction((em) => purges.add(id, 'media', { objects: 3, bytes: 3_000_000_000, rows: { media_artifacts: 3 } }, em));
    const totals = await ds.transaction((em) => purges.take(id, 'media', em));
    expect(totals).toEqual({ objects: 8, bytes: 3_000_000_500, rows: { media_artifacts: 8, audio_segments: 2, audio_parts: 7 } });
    expect(await ds.transaction((em) => purges.take(id, 'media', em))).toEqual({ objects: 0, bytes: 0, rows: {} });
  });
});
