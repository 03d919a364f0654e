import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TcpFaultProxy } from '../bench/tcp-fault-proxy';
import { JobName } from '../src/jobs/job-names';
import type { MediaItem } from '../src/jobs/job-payloads';
import { QueueName } from '../src/jobs/queue-names';
import { MediaBatchService } from '../src/modules/media-ingest/pipeline/media-batch.service';
import { insertSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { waitFor } from './utils/wait-for';

jest.setTimeout(90_000);

/**
 * A stream worker stopped while Redis is unreachable (a deploy during an outage) cannot
 * enqueue the transcript and chat it still holds. It leaves them in its media spill on the
 * host's disk and says so on the session's timeline (`media.deferred`); the next worker
 * process on the host takes the spill over and enqueues it, and the savers store every
 * item (`media.recovered`). Before, they were dropped at shutdown — or lost with the
 * process when its close hung on the enqueue until the shutdown timeout killed it.
 */
describe('Media left in the spill at shutdown is saved by the next worker on the host', () => {
  let proxy: TcpFaultProxy;
  let spoolDir: string;
  let storageDir: string;

  const ctx = useE2eContext({
    // The savers run here, on Redis directly.
    hub: { api: false, worker: { queues: [QueueName.MediaFrames], explicit: true } },
    env: async () => {
      storageDir = await fs.mkdtemp(path.join(os.tmpdir(), 'spill-handover-media-'));
      return { STORAGE_DRIVER: 'local', STORAGE_LOCAL_DIR: storageDir };
    },
  });

  beforeAll(async () => {
    const redis = new URL(process.env.REDIS_URL!);
    proxy = await new TcpFaultProxy({ host: redis.hostname, port: Number(redis.port || 6379) }).start();
    spoolDir = await fs.mkdtemp(path.join(os.tmpdir(), 'spill-handover-spool-'));
  });

  afterAll(async () => {
    proxy?.restore();
    await proxy?.stop();
    await fs.rm(spoolDir, { recursive: true, force: true });
    await fs.rm(storageDir, { recursive: true, force: true });
  });

  const spillFiles = async () => (await fs.readdir(path.join(spoolDir, 'media-spill')).catch(() => [] as string[])).filter((f) => f.endsWith('.jsonl'));
  const eventsOf = (sessionId: string, type: string) =>
    query<{ payload: Record<string, unknown> }>(ctx.hub.app, `SELECT payload FROM session_events WHERE session_id = $1 AND event_type = $2 ORDER BY created_at`, [sessionId, type]);

  it('a worker stopped during an outage leaves its media in the spill; the next one on the host saves all of it', async () => {
    const sessionId = await insertSession(ctx.hub, { meetingUuid: `spill-${randomUUID()}` });
    const ids = { sessionId, rtmsStreamId: `spill-${randomUUID()}` };
    const line = (i: number): MediaItem => ({ msgType: 17, userId: 7, userName: 'Ann', timestamp: 1000 * (i + 1), data: `line ${i}`, meta: { start_time: 1000 * (i + 1), end_time: 1000 * (i + 1) + 500 }, receivedAt: Date.now() });
    const chat = (i: number): MediaItem => ({ msgType: 18, userId: 7, userName: 'Ann', timestamp: 500 + 1000 * i, data: `chat ${i}`, receivedAt: Date.now() });

    const viaProxy = new URL(process.env.REDIS_URL!);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const stopping = await ctx.startApp(
      { api: false, worker: { queues: [QueueName.RtmsStreams], explicit: true } },
      { REDIS_URL: viaProxy.toString(), AUDIO_SPOOL_DIR: spoolDir, SHUTDOWN_TIMEOUT_MS: '8000' },
    );
    const batcher = stopping.app.get(MediaBatchService, { strict: false }).batcher;

    proxy.cut();
    for (let i = 0; i < 40; i++) batcher.add(ids, JobName.TranscriptSave, line(i));
    for (let i = 0; i < 10; i++) batcher.add(ids, JobName.ChatSave, chat(i));
    void batcher.flush(); // waits in ioredis's offline queue for the outage
    await ctx.stopApp(stopping);

    expect((await spillFiles()).length).toBeGreaterThan(0);
    expect((await eventsOf(sessionId, 'media.deferred')).map((e) => e.payload)).toEqual([{ reason: 'shutdown', spool_host: expect.any(String), items: 50 }]);
    expect(await eventsOf(sessionId, 'media.dropped')).toEqual([]);

    proxy.restore();
    await ctx.startApp({ api: false, worker: { queues: [QueueName.RtmsStreams], explicit: true } }, { AUDIO_SPOOL_DIR: spoolDir });

    await waitFor(
      async () => {
        const [t] = await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM transcript_segments WHERE session_id = $1`, [sessionId]);
        const [c] = await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM media_artifacts WHERE session_id = $1 AND kind = 'chat'`, [sessionId]);
        return t.n === 40 && c.n === 10;
      },
      { timeoutMs: 30_000, what: 'the 40 transcript lines and 10 chat messages saved' },
    );
    const recovered = await waitFor(
      async () => {
        const rows = await eventsOf(sessionId, 'media.recovered');
        return rows.length === 2 ? rows : undefined;
      },
      { timeoutMs: 20_000, what: 'media.recovered on the timeline' },
    );
    expect(recovered.map((e) => e.payload)).toEqual(
      expect.arrayContaining([
        { job: JobName.TranscriptSave, from: 'spill', items: 40 },
        { job: JobName.ChatSave, from: 'spill', items: 10 },
      ]),
    );
    expect(await spillFiles()).toEqual([]);
  });
});
