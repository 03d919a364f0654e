import { useMeetingThroughRedis } from './utils/meeting-through-redis';
import { SentinelSet } from './utils/redis-topologies';
import { waitFor } from './utils/wait-for';

jest.setTimeout(150_000);

/** RTMS msg_type of an audio packet: the simulator sends one every 100 ms while a media socket is up. */
const AUDIO = 14;

/**
 * Watches how many audio packets the simulator has sent for a stream (it sends only over
 * a live media socket), every 20 ms: the longest pause between two packets is the hole
 * in the media, and when it ended says when the stream was streaming again.
 */
class MediaGapMeter {
  private readonly changes: number[] = [];
  private last = -1;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly sent: () => number) {
    this.timer = setInterval(() => this.sample(), 20);
  }

  private sample(): void {
    const n = this.sent();
    if (n !== this.last) this.changes.push(Date.now());
    this.last = n;
  }

  /** Packets seen since `at`. */
  since(at: number): number {
    return this.changes.filter((t) => t >= at).length;
  }

  /** The longest pause between two packets that ended after `at`, and when it ended. */
  longestPauseEndingAfter(at: number): { pauseMs: number; resumedAt: number } {
    let best = { pauseMs: 0, resumedAt: at };
    for (let i = 1; i < this.changes.length; i++) {
      const pause = this.changes[i] - this.changes[i - 1];
      if (this.changes[i] > at && pause > best.pauseMs) best = { pauseMs: pause, resumedAt: this.changes[i] };
    }
    return best;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/**
 * Issue 20, the unplanned case: the Sentinel-managed primary is SIGKILLed mid-meeting
 * (three participants). The sentinels promote the replica; the stream's holder cannot
 * renew its lease meanwhile, so it closes its Zoom sockets before the lease could expire
 * (it cannot tell a dead primary from being cut off alone), and the stream is connected
 * again once the new primary answers. What Zoom sent is stored, per media type; nothing
 * is left in a queue; there were never two live connections for the stream.
 */
describe('Redis Sentinel: a meeting through an unplanned failover (primary SIGKILLed)', () => {
  let set: SentinelSet;
  beforeAll(async () => {
    set = await SentinelSet.start();
  });
  const meeting = useMeetingThroughRedis(() => set.env());
  afterAll(async () => {
    await set?.stop();
  });

  it('the stream streams again within seconds of the promotion, nothing sent is lost and no job is stuck', async () => {
    let report = '';
    let maxLiveSignaling = 0;
    const counts = await meeting.run(
      async ({ streamId }) => {
        const sentAudio = () => Number(meeting.ctx.sim.record(streamId).messagesSent.byType[AUDIO] ?? 0);
        const meter = new MediaGapMeter(sentAudio);
        try {
          const failover = await set.killPrimary();
          const promotedAt = failover.killedAt + failover.promotedAfterMs;
          // Streaming again: a second of audio sent after the promotion.
          await waitFor(() => meter.since(promotedAt) >= 10, { timeoutMs: 30_000, intervalMs: 50, what: 'audio flowing again after the promotion' });
          const { pauseMs, resumedAt } = meter.longestPauseEndingAfter(failover.killedAt);
          report =
            `primary ${failover.killed} killed; replica ${failover.promoted} named primary by every sentinel after ${failover.promotedAfterMs} ms; ` +
            `media pause ${pauseMs} ms, streaming again ${resumedAt - failover.killedAt} ms after the kill (${resumedAt - promotedAt} ms after the promotion)`;
          expect(resumedAt - promotedAt).toBeLessThan(10_000);
          maxLiveSignaling = meeting.ctx.sim.record(streamId).maxLiveSignaling;
        } finally {
          meter.stop();
        }
      },
      { thirdParticipant: true },
    );
    // One holder at a time, through the whole failover.
    expect(maxLiveSignaling).toBe(1);
    console.log(`sentinel unplanned failover: ${report}; ${counts}`);
  });
});
