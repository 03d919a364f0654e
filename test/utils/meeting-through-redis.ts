import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobName } from '../../src/jobs/job-names';
import { ALL_QUEUES, QueueName } from '../../src/jobs/queue-names';
import { createSession } from '../factories/session.factory';
import { query } from './db';
import { E2eContext, useE2eContext } from './e2e-context';
import { waitFor, waitForQueuesIdle } from './wait-for';

/**
 * One simulated meeting through the whole pipeline (webhook → stream worker → batches →
 * savers → local storage) against whatever Redis the context's env points the hub at,
 * with `during` run while media flows (a failover, say). Afterwards it checks what the
 * issue asks: sent vs stored equal per media type, no job failed, every queue drained.
 */

/** Lock expiry (30 s) plus BullMQ's stalled-check interval (30 s) for a save job orphaned by the fault, and a margin. */
const QUEUES_IDLE_AFTER_FAULT_MS = 75_000;

const ANN = 301;
const BOB = 302;
const CY = 303;

/** The stream `during` runs against (to watch it in the simulator). */
export interface MeetingStream {
  streamId: string;
  sessionId: string;
}

export interface MeetingOptions {
  /** A third participant who speaks and chats too (default: Ann and Bob only). */
  thirdParticipant?: boolean;
}

export interface MeetingThroughRedis {
  ctx: E2eContext;
  /** Runs the meeting; `during` runs once media is being stored. Returns the per-type counts (for the log). */
  run(during: (stream: MeetingStream) => Promise<void>, options?: MeetingOptions): Promise<string>;
}

export function useMeetingThroughRedis(redisEnv: () => Record<string, string>): MeetingThroughRedis {
  let storeDir = '';
  beforeAll(async () => {
    storeDir = await fs.mkdtemp(path.join(os.tmpdir(), 'redis-topology-store-'));
  });
  const consumed = [QueueName.ZoomEvents, QueueName.RtmsStreams, QueueName.MediaFrames];
  const ctx = useE2eContext({
    simulator: { speed: 1, videoScale: 0.1 },
    hub: { api: true, worker: { queues: consumed, explicit: true } },
    env: () => ({
      ...redisEnv(),
      STORAGE_LOCAL_DIR: storeDir,
      AUDIO_SEGMENT_IDLE_FINALIZE_MS: '800',
      MEDIA_BATCH_FLUSH_MS: '100',
    }),
  });
  afterAll(async () => {
    if (storeDir) await fs.rm(storeDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  });

  async function run(during: (stream: MeetingStream) => Promise<void>, options: MeetingOptions = {}): Promise<string> {
    // Script times are meeting time; the hub holds the stream ~2-3 s after the meeting starts.
    // Enough script for a slow start plus a long fault; the meeting is ended once enough flowed after the fault.
    const chat = (user: number, from: number) => Array.from({ length: 16 }, (_, i) => ({ atMs: from + i * 1500, text: `chat ${user} #${i}` }));
    const speech = (from: number) => Array.from({ length: 16 }, (_, i) => ({ atMs: from + i * 1500, text: `line at ${from + i * 1500}`, durationMs: 700 }));
    const meeting = ctx.sim.createMeeting({
      participants: [
        { userId: ANN, name: 'Ann', speaks: speech(3000), chat: chat(ANN, 3500), shares: [{ fromMs: 4000, toMs: 26000 }] },
        { userId: BOB, name: 'Bob', speaks: speech(3700), chat: chat(BOB, 4200) },
        ...(options.thirdParticipant ? [{ userId: CY, name: 'Cy', speaks: speech(4400), chat: chat(CY, 4900) }] : []),
      ],
    });
    const policy = {
      media_types: ['audio', 'video', 'deskshare', 'transcript', 'chat'],
      // Every frame is kept (no sampling: interval 0, the rate set by fps), so the count stored
      // must equal the count sent. With an interval, a frame that comes sooner after a
      // reconnect than the interval is rightly dropped, also across a takeover (the filter
      // starts from what the session stored).
      video: { skip_first_frames: 0, interval_ms: 0, fps: 2, max_frames_per_user: 0 },
      deskshare: { skip_first_frames: 0, interval_ms: 0, fps: 1, max_frames_per_user: 0 },
      audio: { mode: 'mixed', segment_seconds: 5 },
    };
    const { id: sessionId } = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: policy });
    const stream = await ctx.sim.startRtms(meeting.id);
    const storedFrames = async () => Number((await query<{ n: string }>(ctx.hub.app, `SELECT count(*)::text AS n FROM media_artifacts WHERE session_id = $1 AND kind = 'video_frame'`, [sessionId]))[0].n);
    const rec = () => ctx.sim.record(stream.streamId);
    const sentNow = (type: number) => Number(rec().messagesSent.byType[type] ?? 0);
    // The fault hits a meeting in full flow: frames stored, transcript and chat already sent.
    await waitFor(async () => sentNow(17) >= 2 && sentNow(18) >= 2 && (await storedFrames()) > 0, { timeoutMs: 20_000, intervalMs: 100, what: 'media flowing before the fault' });

    await during({ streamId: stream.streamId, sessionId });

    // Media keeps flowing and being stored after the fault: frames stored, transcript and chat sent.
    const [frames, transcripts, chats] = [await storedFrames(), sentNow(17), sentNow(18)];
    await waitFor(async () => sentNow(17) >= transcripts + 4 && sentNow(18) >= chats + 4 && (await storedFrames()) > frames, { timeoutMs: 25_000, intervalMs: 100, what: 'media flowing after the fault' }).catch(async (err: Error) => {
      const job = await ctx.hub.producer.queueFor(JobName.StreamRun).getJob(stream.streamId);
      const [row] = await query<{ status: string }>(ctx.hub.app, `SELECT status FROM rtms_streams WHERE rtms_stream_id = $1`, [stream.streamId]);
      const conns = rec().connections.map((c) => `${c.kind}:${c.handshakeStatus ?? '-'}`).join(' ');
      throw new Error(
        `${err.message}; sent transcript ${transcripts}→${sentNow(17)}, chat ${chats}→${sentNow(18)}, frames stored ${frames}→${await storedFrames()}; ` +
          `stream job ${job ? await job.getState() : 'gone'} (attempts ${job?.attemptsMade}, ${job?.failedReason ?? ''}); row ${row?.status}; sim connections ${conns}`,
      );
    });
    ctx.sim.endMeeting(meeting.id);
    await waitFor(async () => ((await ctx.hub.producer.queueFor(JobName.StreamRun).getJob(stream.streamId))?.finishedOn ? true : undefined), {
      timeoutMs: 20_000,
      what: 'the stream job to finish',
    });
    // The queues this hub consumes drain; on the others (no worker here) nothing failed.
    // A failover can lose the primary's last writes (replication is asynchronous): a save
    // job whose completion was lost is still `active` until its lock expires and BullMQ's
    // stalled check (every 30 s) puts it back, so draining may take up to ~60 s.
    const queues = consumed.map((q) => ctx.hub.producer.queue(q));
    const endedAt = Date.now();
    await waitFor(
      async () => {
        await waitForQueuesIdle(queues, { timeoutMs: QUEUES_IDLE_AFTER_FAULT_MS });
        const open = await query<{ n: string }>(ctx.hub.app, `SELECT count(*)::text AS n FROM audio_segments WHERE session_id = $1 AND status = 'open'`, [sessionId]);
        return open[0].n === '0';
      },
      { timeoutMs: QUEUES_IDLE_AFTER_FAULT_MS + 5_000, what: 'savers drained and audio segments written' },
    );
    const drainedMs = Date.now() - endedAt;
    for (const q of queues) expect({ queue: q.name, ...(await q.getJobCounts('failed', 'active', 'waiting', 'delayed')) }).toMatchObject({ queue: q.name, failed: 0, active: 0, waiting: 0, delayed: 0 });
    for (const name of ALL_QUEUES) expect({ queue: name, ...(await ctx.hub.producer.queue(name).getJobCounts('failed')) }).toMatchObject({ queue: name, failed: 0 });
    expect(await (await ctx.hub.producer.queueFor(JobName.StreamRun).getJob(stream.streamId))!.getState()).toBe('completed');

    // Sent vs stored, per media type.
    const sent = sentNow;
    const counts = await query<{ kind: string; n: string }>(ctx.hub.app, `SELECT kind, count(*)::text AS n FROM media_artifacts WHERE session_id = $1 GROUP BY kind`, [sessionId]);
    const stored = Object.fromEntries(counts.map((c) => [c.kind, Number(c.n)]));
    const lines = Number((await query<{ n: string }>(ctx.hub.app, `SELECT count(*)::text AS n FROM transcript_segments WHERE session_id = $1`, [sessionId]))[0].n);
    expect({ video: stored.video_frame ?? 0, share: stored.share_frame ?? 0, chat: stored.chat ?? 0, transcript: lines }).toEqual({
      video: sent(15),
      share: sent(16),
      chat: sent(18),
      transcript: sent(17),
    });
    // Each type flowed (transcript and chat before and after the fault: waited for above).
    expect(sent(15)).toBeGreaterThan(0);
    expect(sent(16)).toBeGreaterThan(0);
    const audioMs = Number((await query<{ ms: string }>(ctx.hub.app, `SELECT coalesce(sum(duration_ms), 0)::text AS ms FROM media_artifacts WHERE session_id = $1 AND kind = 'audio_segment'`, [sessionId]))[0].ms);
    expect(sent(14)).toBeGreaterThan(0);
    expect(Math.abs(audioMs - sent(14) * 100)).toBeLessThanOrEqual(100);
    const lost = await query(ctx.hub.app, `SELECT 1 FROM session_events WHERE session_id = $1 AND event_type IN ('media.lost', 'media.dropped')`, [sessionId]);
    expect(lost).toHaveLength(0);
    return `queues idle ${drainedMs} ms after the stream job finished; stored/sent: video ${stored.video_frame}/${sent(15)}, share ${stored.share_frame}/${sent(16)}, chat ${stored.chat}/${sent(18)}, transcript ${lines}/${sent(17)}, audio ${audioMs} ms/${sent(14) * 100} ms`;
  }

  return { ctx, run };
}
