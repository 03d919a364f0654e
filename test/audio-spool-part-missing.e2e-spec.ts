import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DataSource } from 'typeorm';
import { MetricsService } from '../src/common/metrics/metrics.service';
import { QueueName } from '../src/jobs/queue-names';
import { AudioSegmentWriter } from '../src/modules/media-ingest/audio/audio-segment-writer';
import { SpooledAudioStore } from '../src/modules/media-ingest/audio/audio-spool.store';
import { SpoolFiles } from '../src/modules/media-ingest/audio/spool-files';
import { SessionEventsService } from '../src/modules/sessions';
import { pcmTones } from '../src/simulator/media';
import { insertSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { waitFor } from './utils/wait-for';

const T0 = 1_750_690_000_000; // a Zoom ms timestamp on a segment boundary
const PACKET_BYTES = 640; // 20 ms of 16 kHz mono L16

/**
 * An audio segment whose spooled bytes are partly gone from the spool file (a truncated
 * or damaged disk) is written without them, as before, but not silently: the stream
 * worker's segment writer records `media.lost` (spool_part_missing) on the session's
 * timeline in the transaction that marks the segment final, and counts the packets in
 * rtms_hub_audio_packets_missing_total.
 */
describe('Audio segments written with spooled parts missing', () => {
  let root: string;
  let spool: string;
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'audio-missing-media-'));
    spool = await fs.mkdtemp(path.join(os.tmpdir(), 'audio-missing-spool-'));
  });
  afterAll(async () => {
    await fs.rm(root, { recursive: true, force: true });
    await fs.rm(spool, { recursive: true, force: true });
  });

  const ctx = useE2eContext({
    hub: { api: false, worker: { queues: [QueueName.RtmsStreams], explicit: true } },
    env: () => ({
      STORAGE_DRIVER: 'local',
      STORAGE_LOCAL_DIR: root,
      AUDIO_SPOOL_DIR: spool,
      // A spool host of its own, whose sweep never takes the segments first: this test writes them.
      SPOOL_HOST_ID: `audio-missing-${process.pid}`,
      AUDIO_SEGMENT_IDLE_FINALIZE_MS: '600000',
    }),
  });
  const get = <T>(cls: abstract new (...args: never[]) => T): T => ctx.hub.app.get(cls, { strict: false });

  afterEach(() => jest.restoreAllMocks());

  const packets = (first: number, count: number) =>
    Array.from({ length: count }, (_, i) => ({ ts: T0 + (first + i) * 20, pcm: pcmTones([440], 16000, (first + i) * 320, 320, 1), receivedAt: Date.now() }));

  /** A 2 s segment of user 7 spooled by this host, in flushes of the given packet counts; returns it and its spool file (a path). */
  async function spooledSegment(sessionId: string, streamId: string, flushes: number[]): Promise<{ segmentId: string; file: string }> {
    const writer = get(AudioSegmentWriter);
    const store = new SpooledAudioStore(get(DataSource), new SpoolFiles(writer.spoolDir), writer.spoolHost);
    const key = `${streamId}|7|${T0}`;
    const ids = await store.ensureSegments([{ key, sessionId, rtmsStreamId: streamId, userId: '7', userName: 'Ann', segmentStartMs: T0, segmentMs: 2000, sampleRate: 16000, channels: 1 }]);
    const segmentId = ids.get(key)!;
    let first = 0;
    for (const count of flushes) {
      await store.appendParts([{ segmentId, packets: packets(first, count), touch: true }]);
      first += count;
    }
    const file = path.join(writer.spoolDir, store.currentFile!);
    await store.close();
    return { segmentId, file };
  }

  /**
   * A 2 s segment of user 7 spooled in two flushes of 1 s (50 packets) each, whose spool
   * file then loses the second flush's bytes (truncated after the first).
   */
  async function segmentWithLostTail(sessionId: string, streamId: string): Promise<string> {
    const { segmentId, file } = await spooledSegment(sessionId, streamId, [50, 50]);
    await fs.truncate(file, 50 * PACKET_BYTES);
    return segmentId;
  }

  /** What another host's LostSpoolHosts check does while this one is silent. */
  const markLost = (segmentId: string) => query(ctx.hub.app, `UPDATE audio_segments SET status = 'lost', last_part_at = now() - interval '1 hour' WHERE id = $1`, [segmentId]);

  const segmentStatus = async (id: string) => (await query<{ status: string }>(ctx.hub.app, `SELECT status FROM audio_segments WHERE id = $1`, [id]))[0].status;
  const lostEvents = (sessionId: string) =>
    query<{ payload: Record<string, unknown> }>(ctx.hub.app, `SELECT payload FROM session_events WHERE session_id = $1 AND event_type = 'media.lost'`, [sessionId]);
  const missingPacketsCounted = async () => (await get(MetricsService).registry.getSingleMetric('rtms_hub_audio_packets_missing_total')?.get())?.values[0]?.value ?? 0;

  it('a segment given up as lost (its host silent too long) is written out from the spool when the host is back: media.recovered, nothing missing', async () => {
    const sessionId = await insertSession(ctx.hub, { meetingUuid: `audio-back-${randomUUID()}` });
    const streamId = `audio-back-${randomUUID()}`;
    const writer = get(AudioSegmentWriter);
    const { segmentId } = await spooledSegment(sessionId, streamId, [100]);
    await markLost(segmentId);

    // (The sweep looks for them at its first run and every minute; called here at once.)
    expect(await writer.recoverLost()).toBe(1);
    await writer.sweep(600_000);
    await waitFor(async () => (await segmentStatus(segmentId)) === 'final', { timeoutMs: 10_000, what: 'the recovered segment written out' });
    const [wav] = await query<{ duration_ms: number; meta: Record<string, unknown> }>(ctx.hub.app, `SELECT duration_ms, meta FROM media_artifacts WHERE rtms_stream_id = $1`, [streamId]);
    expect(wav.duration_ms).toBe(2000);
    expect(wav.meta).not.toHaveProperty('missing_parts');
    const recovered = await query<{ payload: Record<string, unknown> }>(ctx.hub.app, `SELECT payload FROM session_events WHERE session_id = $1 AND event_type = 'media.recovered'`, [sessionId]);
    expect(recovered.map((e) => e.payload)).toEqual([
      {
        reason: 'spool_host_back',
        items: { audio_segment: 1 },
        spool_hosts: [writer.spoolHost],
        rtms_stream_ids: [streamId],
        participants: [{ user_id: '7', user_name: 'Ann' }],
        from: new Date(T0).toISOString(),
        to: new Date(T0 + 2000).toISOString(),
      },
    ]);
    expect(await lostEvents(sessionId)).toEqual([]);
    // Nothing more to recover.
    expect(await writer.recoverLost()).toBe(0);
    await query(ctx.hub.app, `DELETE FROM sessions WHERE id = $1`, [sessionId]);
  });

  it('a lost segment whose PCM is not on this disk (the host came back on a fresh one) stays lost: no media.recovered, no empty WAV', async () => {
    const sessionId = await insertSession(ctx.hub, { meetingUuid: `audio-fresh-${randomUUID()}` });
    const streamId = `audio-fresh-${randomUUID()}`;
    const writer = get(AudioSegmentWriter);
    const { segmentId, file } = await spooledSegment(sessionId, streamId, [100]);
    await fs.rm(file);
    await markLost(segmentId);

    expect(await writer.recoverLost()).toBe(0);
    expect(await segmentStatus(segmentId)).toBe('lost');
    expect(await query(ctx.hub.app, `SELECT 1 FROM session_events WHERE session_id = $1 AND event_type = 'media.recovered'`, [sessionId])).toEqual([]);
    expect(await query(ctx.hub.app, `SELECT 1 FROM media_artifacts WHERE rtms_stream_id = $1`, [streamId])).toEqual([]);
    await query(ctx.hub.app, `DELETE FROM sessions WHERE id = $1`, [sessionId]);
  });

  it("records media.lost (spool_part_missing) with the segment and what it lacks, and counts the packets", async () => {
    const sessionId = await insertSession(ctx.hub, { meetingUuid: `audio-missing-${randomUUID()}` });
    const streamId = `audio-missing-${randomUUID()}`;
    const segmentId = await segmentWithLostTail(sessionId, streamId);
    const before = await missingPacketsCounted();

    expect(await get(AudioSegmentWriter).finalizeSegment(segmentId)).toBe(true);

    expect(await segmentStatus(segmentId)).toBe('final');
    const [wav] = await query<{ id: string; duration_ms: number; meta: Record<string, unknown> }>(ctx.hub.app, `SELECT id, duration_ms, meta FROM media_artifacts WHERE rtms_stream_id = $1`, [streamId]);
    expect(wav).toMatchObject({ duration_ms: 1000, meta: expect.objectContaining({ missing_parts: 1 }) });
    expect((await lostEvents(sessionId)).map((e) => e.payload)).toEqual([
      {
        reason: 'spool_part_missing',
        items: { audio_segment: 1 },
        spool_hosts: [get(AudioSegmentWriter).spoolHost],
        rtms_stream_ids: [streamId],
        participants: [{ user_id: '7', user_name: 'Ann' }],
        from: new Date(T0).toISOString(),
        to: new Date(T0 + 2000).toISOString(),
        segment_id: segmentId,
        artifact_id: wav.id,
        missing_parts: 1,
        missing_packets: 50,
        missing_ms: 1000,
      },
    ]);
    expect((await missingPacketsCounted()) - before).toBe(50);
    await query(ctx.hub.app, `DELETE FROM sessions WHERE id = $1`, [sessionId]);
  });

  it('the report commits with the segment: if it cannot be recorded, the segment stays open for the next write', async () => {
    const sessionId = await insertSession(ctx.hub, { meetingUuid: `audio-missing-${randomUUID()}` });
    const streamId = `audio-missing-${randomUUID()}`;
    const segmentId = await segmentWithLostTail(sessionId, streamId);
    const before = await missingPacketsCounted();
    jest.spyOn(get(SessionEventsService), 'recordEvent').mockRejectedValueOnce(new Error('timeline unavailable'));

    await expect(get(AudioSegmentWriter).finalizeSegment(segmentId)).rejects.toThrow('timeline unavailable');

    expect(await segmentStatus(segmentId)).toBe('open');
    expect(await query(ctx.hub.app, `SELECT 1 FROM media_artifacts WHERE rtms_stream_id = $1`, [streamId])).toEqual([]);
    expect(await missingPacketsCounted()).toBe(before);
    // The next write reports it.
    expect(await get(AudioSegmentWriter).finalizeSegment(segmentId)).toBe(true);
    expect(await segmentStatus(segmentId)).toBe('final');
    expect(await lostEvents(sessionId)).toHaveLength(1);
    await query(ctx.hub.app, `DELETE FROM sessions WHERE id = $1`, [sessionId]);
  });
});
