import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { JobName } from '../src/jobs/job-names';
import { QueueName } from '../src/jobs/queue-names';
import { createSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { waitFor } from './utils/wait-for';

jest.setTimeout(120_000);

/**
 * The configured capture defaults (CAPTURE_VIDEO_FORMAT, _FPS, _RESOLUTION) reach sessions
 * the hub creates from a webhook: the data handshake asks Zoom (the simulator) for what
 * they say, the session's stored policy shows it, and the video is captured as H.264
 * segments. A session created with its own policy asking for JPEG gets JPEG, without the
 * default's H.264 frame rate (the default resolution applies to any format).
 */
interface MediaParams {
  video?: { codec?: number; fps?: number; resolution?: number };
}

describe('Capture defaults from the configuration', () => {
  let root: string;

  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'capture-defaults-'));
  });

  const ctx = useE2eContext({
    simulator: { speed: 2 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams, QueueName.MediaFrames], explicit: true } },
    env: () => ({
      STORAGE_LOCAL_DIR: root,
      MEDIA_BATCH_FLUSH_MS: '50',
      H264_SEGMENT_SECONDS: '1',
      CAPTURE_MEDIA_TYPES: 'video',
      CAPTURE_VIDEO_FORMAT: 'h264',
      CAPTURE_VIDEO_FPS: '10',
      CAPTURE_VIDEO_RESOLUTION: 'fhd',
    }),
  });

  afterAll(async () => {
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  /** The video media_params of the stream's accepted data handshake. */
  async function videoParams(streamId: string): Promise<MediaParams['video']> {
    const hs = await waitFor(() => ctx.sim.record(streamId).handshakes.find((h) => h.socket === 'media' && h.statusCode === 0), { timeoutMs: 30_000, what: 'the media handshake' });
    return ((hs.request as { media_params?: MediaParams }).media_params ?? {}).video;
  }

  /** Stops the stream and waits for its job to finish. */
  async function stop(streamId: string): Promise<void> {
    await ctx.sim.stopRtms(streamId, 6);
    const job = () => ctx.hub.producer.queueFor(JobName.StreamRun).getJob(streamId);
    await waitFor(async () => Boolean((await job())?.finishedOn), { timeoutMs: 30_000, what: 'the stream job finished' });
  }

  it('a meeting started by webhook alone asks for H.264 at the configured fps and resolution, stores that policy, and keeps segments', async () => {
    const meeting = ctx.sim.createMeeting({ participants: [{ userId: 401, name: 'Ann', speaks: [{ atMs: 0, text: 'a long talk', durationMs: 600_000 }] }] });
    const { streamId } = await ctx.sim.startRtms(meeting.id);
    expect(await videoParams(streamId)).toMatchObject({ codec: 7, fps: 10, resolution: 3 });

    const [session] = await waitFor(async () => {
      const rows = await query<{ id: string; capture_policy: { video: Record<string, unknown> } }>(ctx.hub.app, `SELECT id, capture_policy FROM sessions WHERE meeting_uuid = $1`, [meeting.uuid]);
      return rows.length > 0 ? rows : undefined;
    }, { what: 'the session the webhook created' });
    expect(session.capture_policy.video).toMatchObject({ format: 'h264', fps: 10, resolution: 'fhd' });

    // A segment is cut at a keyframe once it is ≥ 1 s long: wait for two.
    const kinds = async () => query<{ kind: string; frames: number }>(ctx.hub.app, `SELECT kind, coalesce((meta->>'frames')::int, 0) AS frames FROM media_artifacts WHERE session_id = $1`, [session.id]);
    await waitFor(async () => (await kinds()).filter((a) => a.kind === 'video_segment').length >= 2, { timeoutMs: 60_000, what: 'two video segments stored' });
    await stop(streamId);
    const stored = await kinds();
    expect(stored.every((a) => a.kind === 'video_segment')).toBe(true);
    expect(stored.every((a) => a.frames > 0)).toBe(true);
  });

  it('a session asking for JPEG gets JPEG at its own rate, not the default H.264 fps, at the default resolution', async () => {
    const meeting = ctx.sim.createMeeting({ participants: [{ userId: 402, name: 'Bob', speaks: [{ atMs: 0, text: 'hello', durationMs: 600_000 }] }] });
    const created = await createSession(ctx.hub, { meetingId: meeting.id, capturePolicy: { video: { format: 'jpeg', interval_ms: 500 } } });
    const policy = (created.capture_policy as { video: Record<string, unknown> }).video;
    expect(policy).toMatchObject({ format: 'jpeg', interval_ms: 500, resolution: 'fhd' });
    expect(policy.fps).toBeUndefined();

    const { streamId } = await ctx.sim.startRtms(meeting.id);
    // JPEG at the interval's rate (500 ms: 2 fps), not the defaults' H.264 10 fps.
    expect(await videoParams(streamId)).toMatchObject({ codec: 5, fps: 2, resolution: 3 });
    const frames = async () => query<{ kind: string }>(ctx.hub.app, `SELECT kind FROM media_artifacts WHERE session_id = $1`, [created.id]);
    await waitFor(async () => (await frames()).some((a) => a.kind === 'video_frame'), { timeoutMs: 60_000, what: 'a JPEG frame stored' });
    await stop(streamId);
    expect((await frames()).every((a) => a.kind === 'video_frame')).toBe(true);
  });
});
