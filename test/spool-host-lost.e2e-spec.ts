import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { QueueName } from '../src/jobs/queue-names';
import { LostSpoolHosts } from '../src/modules/media-ingest/workers/lost-spool-hosts';
import { workerKeys } from '../src/modules/media-ingest/workers/stream-workers.registry';
import { insertSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { waitFor } from './utils/wait-for';

/**
 * A stream worker's host that never comes back: its open audio segments (PCM on its own
 * disk only) are marked lost after SPOOL_HOST_LOST_AFTER_SEC and reported on the session's
 * timeline (media.lost), by the stream worker of another host. A host still heartbeating,
 * or a segment that got PCM recently, is left alone.
 */
describe('Lost spool hosts', () => {
  const ctx = useE2eContext({
    hub: { api: false, worker: { queues: [QueueName.RtmsStreams], explicit: true } },
    env: () => ({ SPOOL_HOST_LOST_AFTER_SEC: '3' }),
  });
  let redis: Redis;
  beforeAll(() => (redis = new Redis(process.env.REDIS_URL as string)));
  afterAll(() => redis.disconnect());

  const segment = async (sessionId: string, streamId: string, host: string, userId: string, startMs: number, partAgo: string) =>
    (
      await query<{ id: string }>(
        ctx.hub.app,
        `INSERT INTO audio_segments (session_id, rtms_stream_id, user_id, user_name, segment_start_ms, segment_ms, sample_rate, channels, spool_host, last_part_at)
         VALUES ($1, $2, $3, $4, $5, 10000, 16000, 1, $6, now() - $7::interval) RETURNING id`,
        [sessionId, streamId, userId, `user ${userId}`, startMs, host, partAgo],
      )
    )[0].id;
  const status = async (id: string) => (await query<{ status: string }>(ctx.hub.app, `SELECT status FROM audio_segments WHERE id = $1`, [id]))[0].status;

  it("a host gone past the grace: its open segments are marked lost and the session's timeline says media.lost with the range and participants", async () => {
    const sessionId = await insertSession(ctx.hub, { meetingUuid: `lost-${randomUUID()}` });
    const streamId = `lost-${randomUUID()}`;
    const gone = `gone-${randomUUID().slice(0, 8)}`;
    const back = `back-${randomUUID().slice(0, 8)}`;
    const t0 = 1_750_000_000_000;
    const lostA = await segment(sessionId, streamId, gone, '1', t0, '1 hour');
    const lostB = await segment(sessionId, streamId, gone, '2', t0 + 10_000, '1 hour');
    // Same host, but PCM arrived a moment ago: not given up (yet).
    const recent = await segment(sessionId, streamId, gone, '1', t0 + 20_000, '0 seconds');
    // Another host whose worker is alive (heartbeat now): its sweep writes its segments out.
    await redis.hset(workerKeys(`${process.env.QUEUE_PREFIX}:${QueueName.RtmsStreams}`).spoolHosts, back, String(Date.now()));
    const alive = await segment(sessionId, streamId, back, '3', t0, '1 hour');

    // The running worker's periodic check finds them.
    await waitFor(async () => (await status(lostA)) === 'lost' && (await status(lostB)) === 'lost', { timeoutMs: 15_000, what: 'segments of the gone host marked lost' });
    const events = await query<{ event_type: string; payload: Record<string, unknown> }>(
      ctx.hub.app,
      `SELECT event_type, payload FROM session_events WHERE session_id = $1 AND event_type = 'media.lost'`,
      [sessionId],
    );
    expect(events).toHaveLength(1);
    expect(events[0].payload).toEqual({
      reason: 'spool_host_lost',
      items: { audio_segment: 2 },
      spool_hosts: [gone],
      rtms_stream_ids: [streamId],
      participants: expect.arrayContaining([
        { user_id: '1', user_name: 'user 1' },
        { user_id: '2', user_name: 'user 2' },
      ]),
      from: new Date(t0).toISOString(),
      to: new Date(t0 + 20_000).toISOString(),
    });

    // Checked again: nothing more, nothing twice.
    expect(await ctx.hub.app.get(LostSpoolHosts, { strict: false }).check()).toBe(0);
    expect(await status(recent)).toBe('open');
    expect(await status(alive)).toBe('open');
    expect((await query(ctx.hub.app, `SELECT 1 FROM session_events WHERE session_id = $1 AND event_type = 'media.lost'`, [sessionId])).length).toBe(1);

    // A segment that had PCM recently is given up too once the grace has passed without news from its host.
    await query(ctx.hub.app, `UPDATE audio_segments SET last_part_at = now() - interval '1 hour' WHERE id = $1`, [recent]);
    await waitFor(async () => (await status(recent)) === 'lost', { timeoutMs: 15_000, what: 'the late segment marked lost' });
    expect(await status(alive)).toBe('open');
    await query(ctx.hub.app, `DELETE FROM sessions WHERE id = $1`, [sessionId]);
  });

  it('forgets hosts silent for over a day (a retired host), not those heard from since', async () => {
    const key = workerKeys(`${process.env.QUEUE_PREFIX}:${QueueName.RtmsStreams}`).spoolHosts;
    const retired = `retired-${randomUUID().slice(0, 8)}`;
    const garbled = `garbled-${randomUUID().slice(0, 8)}`;
    const recent = `recent-${randomUUID().slice(0, 8)}`;
    await redis.hset(key, retired, String(Date.now() - 25 * 3_600_000), garbled, 'not a time', recent, String(Date.now() - 3_600_000));
    // (The worker's own periodic check may be running: a call then returns at once.)
    const after = await waitFor(
      async () => {
        await ctx.hub.app.get(LostSpoolHosts, { strict: false }).check();
        const seen = await redis.hmget(key, retired, garbled, recent);
        return seen[0] === null && seen[1] === null ? seen : undefined;
      },
      { timeoutMs: 10_000, what: 'the silent hosts forgotten' },
    );
    expect(after).toEqual([null, null, expect.any(String)]);
    await redis.hdel(key, recent);
  });
});
