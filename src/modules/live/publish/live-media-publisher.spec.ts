import { ALL_SESSIONS, decodeFrameHeader, FrameFormat, liveKeys, registryMember, unpackFrames } from '../live-protocol';
import { LiveMediaPublisher } from './live-media-publisher';
import { livePublishKit } from './live-publish.spec-helper';

const S1 = '11111111-1111-4111-8111-111111111111';
const S2 = '22222222-2222-4222-8222-222222222222';

async function until(probe: () => Promise<boolean> | boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('LiveMediaPublisher (against the local Redis)', () => {
  const kit = livePublishKit({ registryPollMs: 60_000 });
  const keys = liveKeys(kit.prefix);
  const publisher = new LiveMediaPublisher(kit.redis, kit.config, kit.metrics);

  afterAll(async () => {
    await publisher.onApplicationShutdown();
    await kit.cleanup();
  });

  it('follows the registry: unexpired members of the session or of every session, at once on a change notice', async () => {
    const tap = publisher.openTap(S1);
    await publisher.refresh();
    expect([tap.wants('audio'), tap.wants('video'), tap.wants('deskshare')]).toEqual([false, false, false]);

    await kit.redis.zadd(keys.mediaWanted(S1), Date.now() - 1, registryMember('api-old', ['deskshare']));
    await kit.redis.zadd(keys.mediaWanted(S1), Date.now() + 60_000, registryMember('api-1', ['audio']));
    await kit.redis.publish(keys.mediaWantChanged, S1);
    // The poll is a minute away: only the notice can have done this.
    await until(() => tap.wants('audio'), 'the notice');
    expect([tap.wants('video'), tap.wants('deskshare')]).toEqual([false, false]);

    await kit.redis.zadd(keys.mediaWanted(ALL_SESSIONS), Date.now() + 60_000, registryMember('api-2', ['video']));
    await publisher.refresh();
    expect([tap.wants('audio'), tap.wants('video'), tap.wants('deskshare')]).toEqual([true, true, false]);

    const sibling = publisher.openTap(S1);
    expect(sibling.wants('audio')).toBe(true); // what the session's other stream already knew

    await kit.redis.del(keys.mediaWanted(S1), keys.mediaWanted(ALL_SESSIONS));
    await publisher.refresh();
    expect(tap.wants('audio') || tap.wants('video') || sibling.wants('audio')).toBe(false);
    tap.close();
    sibling.close();
  });

  it('packs the frames of one turn into one message per session', async () => {
    const sub = kit.redis.duplicate();
    const messages: Array<{ channel: string; packed: Buffer }> = [];
    sub.on('messageBuffer', (channel: Buffer, packed: Buffer) => messages.push({ channel: channel.toString(), packed }));
    await sub.subscribe(keys.mediaChannel(S1), keys.mediaChannel(S2));
    const a = publisher.openTap(S1);
    const b = publisher.openTap(S2);
    const before = await kit.metricValue('rtms_hub_live_published_total', { media: 'audio' });
    a.publish('audio', 7, 1000, Buffer.from([1, 1]), FrameFormat.L16);
    a.publish('audio', 7, 1100, Buffer.from([2, 2]), FrameFormat.L16);
    a.publish('video', 8, 1100, Buffer.from([0xff, 0xd8]), FrameFormat.Jpeg);
    b.publish('audio', 9, 1200, Buffer.from([3, 3]), FrameFormat.L16);
    await until(() => messages.length === 2, 'two messages');
    const byChannel = new Map(messages.map((m) => [m.channel, unpackFrames(m.packed)]));
    const s1 = byChannel.get(keys.mediaChannel(S1))!.map((f) => decodeFrameHeader(f)!);
    expect(s1.map((h) => [h.media, h.userId, h.sequence, h.sessionId])).toEqual([
      ['audio', 7, 0, S1],
      ['audio', 7, 1, S1],
      ['video', 8, 0, S1],
    ]);
    expect(byChannel.get(keys.mediaChannel(S2))!.map((f) => f.subarray(48))).toEqual([Buffer.from([3, 3])]);
    await until(async () => (await kit.metricValue('rtms_hub_live_published_total', { media: 'audio' })) - before === 3, 'the metric');
    a.close();
    b.close();
    await sub.quit();
  });

  it('frames published over many turns while Redis answers slowly all arrive, in order (they wait for a pipeline, they are not dropped)', async () => {
    const sub = kit.redis.duplicate();
    const got: number[] = [];
    sub.on('messageBuffer', (_channel: Buffer, packed: Buffer) => got.push(...unpackFrames(packed).map((f) => decodeFrameHeader(f)!.sequence)));
    await sub.subscribe(keys.mediaChannel(S1));
    const tap = publisher.openTap(S1);
    // One frame per event-loop turn: far more turns than pipelines allowed in flight.
    for (let i = 0; i < 200; i++) {
      tap.publish('audio', 7, 2000 + i, Buffer.alloc(640), FrameFormat.L16);
      await new Promise((r) => setImmediate(r));
    }
    await until(() => got.length === 200, 'all 200 frames');
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
    tap.close();
    await sub.quit();
  });
});
