import type { MediaBatchPayload } from '../src/jobs/job-payloads';
import { QueueName } from '../src/jobs/queue-names';
import { useE2eContext } from './utils/e2e-context';
import { spooledAudio } from './utils/spooled-audio';
import { waitFor } from './utils/wait-for';

/** RTMS_MEDIA_SOCKET_MODE=split: one media socket per type, one CLIENT_READY_ACK each, a dropped type redone alone. */
describe('Media ingest: one media socket per type (split mode)', () => {
  const ctx = useE2eContext({
    simulator: { keepAliveIntervalMs: 150, mediaScopes: ['audio', 'video', 'transcript'], videoScale: 0.25 },
    hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.RtmsStreams], explicit: true } },
    env: () => ({ RTMS_MEDIA_SOCKET_MODE: 'split', RTMS_RECONNECT_BASE_MS: '100', RTMS_RECONNECT_MAX_MS: '300', MEDIA_BATCH_FLUSH_MS: '50' }),
  });

  it('opens one socket per offered type (types without a scope are not requested), acks each, and redoes only the dropped one', async () => {
    const meeting = ctx.sim.createMeeting({ participants: [{ userId: 7, name: 'Ann' }] });
    const { streamId: id } = await ctx.sim.startRtms(meeting.id);
    // A socket is live once its handshake is answered; its CLIENT_READY_ACK follows on signaling.
    await waitFor(
      () => {
        const r = ctx.sim.record(id);
        return r.live.media.audio === 1 && r.live.media.video === 1 && r.live.media.transcript === 1 && r.readyAcks.filter((a) => a.valid).length >= 3;
      },
      { timeoutMs: 10000, what: 'three media sockets and their ready acks' },
    );
    const rec = ctx.sim.record(id);
    expect(rec.live.media.all).toBe(0);
    expect(rec.readyAcks.filter((a) => a.valid)).toHaveLength(3);
    const reqs = rec.handshakes.filter((h) => h.socket === 'media').map((h) => (h.request as { media_type: number }).media_type).sort();
    expect(reqs).toEqual([1, 2, 8]);

    const before = ctx.sim.record(id).connections.filter((c) => c.kind === 'media' && c.handshakeStatus === 0).length;
    ctx.sim.faults.dropMedia(id, { path: 'video', notify: 'both' });
    await waitFor(() => ctx.sim.record(id).connections.filter((c) => c.kind === 'media' && c.handshakeStatus === 0).length === before + 1 && ctx.sim.record(id).live.media.video === 1, {
      timeoutMs: 6000,
      what: 'video redone',
    });
    // Audio and transcript kept their sockets; signaling was not redone.
    const conns = ctx.sim.record(id).connections;
    expect(conns.filter((c) => c.kind === 'media' && c.mediaPath === 'audio')).toHaveLength(1);
    expect(conns.filter((c) => c.kind === 'signaling')).toHaveLength(1);
    await waitFor(async () => {
      const jobs = await ctx.hub.producer.queue(QueueName.MediaFrames).getJobs(['waiting']);
      const items = jobs.flatMap((j) => (j.data as MediaBatchPayload).streams.flatMap((s) => s.items));
      return items.some((i) => i.msgType === 15) && (await spooledAudio(ctx.hub.app, id)).some((p) => p.userId === 7);
    }, { what: 'video batched and audio spooled' });
    await ctx.sim.stopRtms(id);
  });
});
