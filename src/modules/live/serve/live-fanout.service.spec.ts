import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { MetricsService } from '../../../common/metrics/metrics.service';
import { JobProducer } from '../../../jobs/job-producer.service';
import type { SessionsService } from '../../sessions';
import { encodeFrame, FrameFormat, liveKeys, LiveTextEntry, packFrames, TEXT_ENTRY_FIELD } from '../live-protocol';
import type { ActiveSessions } from './active-sessions';
import { LiveClient } from './live-client';
import { LiveFanout } from './live-fanout.service';
import { LiveMetrics } from './live-metrics';
import { LiveSettings } from './live-settings';
import { LiveTransport } from './live-transport';
import type { MediaRegistry } from './media-registry';
import type { MediaSubscriber } from './media-subscriber';
import { SubscriptionSpec } from './subscription';
import { LogEntry, ResumeGap, TextLog } from './text-log';
import { TextLogReader } from './text-log-reader';

const S1 = '11111111-1111-4111-8111-111111111111';

/** What a client was sent, in order: control messages and text by type, frames as 'frame'. */
class RecordingTransport implements LiveTransport {
  readonly kind = 'ws' as const;
  sent: Array<{ type: string; id?: string; [k: string]: unknown }> = [];
  bufferedBytes() {
    return 0;
  }
  sendEntry(message: string) {
    this.sent.push(JSON.parse(message) as { type: string });
  }
  sendControl(_type: string, message: string) {
    this.sent.push(JSON.parse(message) as { type: string });
  }
  sendFrame() {
    this.sent.push({ type: 'frame' });
  }
  cork() {}
  uncork() {}
  close() {}
  terminate() {}
  types() {
    return this.sent.map((m) => m.type);
  }
}

/** The log reads the fan-out makes, over an in-memory log per session (ids `<n>-0`). */
class MemoryLog {
  logs = new Map<string, LogEntry[]>();
  lastIdsCalls: Array<{ sessions: readonly string[]; resolve: () => void }> = [];
  /** When set, lastIds waits for the test to call resolve() on its call. */
  deferLastIds = false;
  gap: ResumeGap | null = null;

  append(sessionId: string, n: number): LogEntry {
    const entry: LiveTextEntry = { media: 'events', session_id: sessionId, ts: n, data: { event: 'session.status_changed', n } };
    const item = { id: `${n}-0`, entry, bytes: 50 };
    const log = this.logs.get(sessionId) ?? [];
    log.push(item);
    this.logs.set(sessionId, log);
    return item;
  }

  async lastIds(sessions: readonly string[]): Promise<string[]> {
    if (this.deferLastIds) await new Promise<void>((resolve) => this.lastIdsCalls.push({ sessions, resolve }));
    return sessions.map((s) => this.logs.get(s)?.at(-1)?.id ?? '0-0');
  }

  async range(sessionId: string, afterId: string, count: number) {
    const after = Number(afterId.split('-')[0]);
    const entries = (this.logs.get(sessionId) ?? []).filter((e) => Number(e.id.split('-')[0]) > after).slice(0, count);
    return { entries, read: entries.length, lastId: entries.at(-1)?.id ?? null };
  }

  async gapAfter(): Promise<ResumeGap | null> {
    return this.gap;
  }
}

const settingsOf = (prefix = 'unit-fanout') =>
  ({ keys: liveKeys(prefix), config: { maxSubscriptionsPerClient: 20, resumeWindowSec: 300, clientBufferBytes: 4 * 1024 * 1024, pingIntervalMs: 30_000 } }) as unknown as LiveSettings;

/** A fan-out with a real reader (its loop not started: the test hands it entries) over `log`, and fakes for the rest. */
function fanoutOver(log: Pick<TextLog, 'lastIds' | 'range' | 'gapAfter'>, settings = settingsOf()) {
  const metrics = new LiveMetrics(new MetricsService({ allQueues: () => [] } as unknown as JobProducer));
  const reader = new TextLogReader({} as Redis, settings, log as TextLog);
  const active = {
    listener: (_added: string[], _removed: string[]) => undefined as void,
    current: async () => [] as string[],
    setWatching: () => undefined,
    setListener(l: (added: string[], removed: string[]) => void) {
      this.listener = l;
    },
    announced: () => undefined,
  };
  const sessions = { existingIds: async (ids: string[]) => new Set(ids) } as unknown as SessionsService;
  const mediaSubscriber = { setHandlers: () => undefined, want: async () => undefined } as unknown as MediaSubscriber;
  const registry = { want: async () => undefined } as unknown as MediaRegistry;
  const fanout = new LiveFanout(sessions, log as TextLog, reader, active as unknown as ActiveSessions, mediaSubscriber, registry, metrics, settings);
  fanout.onModuleInit();
  const connect = () => {
    const transport = new RecordingTransport();
    const client = new LiveClient(transport, { keyFingerprint: 'k', sessionIds: null, owner: null }, settings.config.clientBufferBytes, metrics, (c) => fanout.remove(c));
    fanout.add(client);
    return { client, transport };
  };
  return { fanout, reader, active, connect };
}

const spec = (over: Partial<SubscriptionSpec>): SubscriptionSpec => ({ id: 'sub', sessions: [S1], textMedia: ['events'], binaryMedia: [], participants: null, resumeFrom: null, ...over });
const audioFrame = (sessionId: string) => packFrames([encodeFrame({ media: 'audio', sequence: 1, timestamp: Date.now(), sessionId, userId: 0, format: FrameFormat.L16 }, Buffer.alloc(32))]);
const settle = async (turns = 5) => {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('LiveFanout', () => {
  it('sends no media frame before `subscribed`: frames published while the subscription starts are not sent', async () => {
    const log = new MemoryLog();
    log.deferLastIds = true;
    const { fanout, connect } = fanoutOver(log);
    const { client, transport } = connect();
    const subscribed = fanout.subscribe(client, spec({ binaryMedia: ['audio'] }));
    await settle();
    expect(log.lastIdsCalls).toHaveLength(1);
    fanout.deliverMedia(S1, audioFrame(S1));
    expect(transport.types()).toEqual([]);
    log.lastIdsCalls[0].resolve();
    await expect(subscribed).resolves.toBe(true);
    fanout.deliverMedia(S1, audioFrame(S1));
    expect(transport.types()).toEqual(['subscribed', 'frame']);
  });

  it('sends no media frame for a subscription then refused (its sessions could not be read)', async () => {
    const log = new MemoryLog();
    let fail!: (err: Error) => void;
    log.lastIds = () => new Promise<string[]>((_resolve, reject) => (fail = reject));
    const { fanout, connect } = fanoutOver(log);
    const { client, transport } = connect();
    const subscribed = fanout.subscribe(client, spec({ binaryMedia: ['audio'] }));
    await settle();
    fanout.deliverMedia(S1, audioFrame(S1));
    fail(new Error('Connection is closed.'));
    await expect(subscribed).resolves.toBe(false);
    fanout.deliverMedia(S1, audioFrame(S1));
    expect(transport.types()).toEqual(['error']);
    expect(transport.sent[0]).toMatchObject({ code: 'live_unavailable', id: 'sub' });
  });

  it('an `all` subscriber from now goes on from where it started in a session that went quiet and came back: no old history', async () => {
    const log = new MemoryLog();
    for (let n = 1; n <= 5; n++) log.append(S1, n); // before the subscription
    const { fanout, active, connect } = fanoutOver(log);
    active.current = async () => [S1];
    const { client, transport } = connect();
    await expect(fanout.subscribe(client, spec({ sessions: 'all' }))).resolves.toBe(true);
    await settle();
    expect(transport.types()).toEqual(['subscribed']);
    // The session goes quiet (leaves the active set) before writing anything new, then writes again.
    active.listener([], [S1]);
    log.append(S1, 6);
    active.listener([S1], []);
    await settle(20);
    expect(transport.sent.filter((m) => m.type === 'event').map((m) => m.id)).toEqual(['6-0']);
  });

  it('an `all` subscriber that never saw a quiet session before it went away gets its whole log when it comes back (the log began after the subscription)', async () => {
    const log = new MemoryLog();
    const { fanout, active, connect } = fanoutOver(log);
    active.current = async () => [S1];
    const { client, transport } = connect();
    await expect(fanout.subscribe(client, spec({ sessions: 'all' }))).resolves.toBe(true);
    active.listener([], [S1]);
    log.append(S1, 1);
    log.append(S1, 2);
    active.listener([S1], []);
    await settle(20);
    expect(transport.sent.filter((m) => m.type === 'event').map((m) => m.id)).toEqual(['1-0', '2-0']);
  });
});

describe('LiveFanout resuming (TextLog against the local Redis)', () => {
  const redis = new Redis(process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0', { maxRetriesPerRequest: 1 });
  const settings = settingsOf(`unit-fanout-${randomUUID().slice(0, 8)}`);
  const textLog = new TextLog(redis, settings);
  const session = randomUUID();
  const add = async (n: number) => (await redis.xadd(settings.keys.textLog(session), '*', TEXT_ENTRY_FIELD, JSON.stringify({ media: 'events', session_id: session, ts: n, data: { event: 'e', n } })))!;

  afterAll(async () => {
    const keys = await redis.keys(`${settings.keys.textLog('')}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('a resume point the log cannot reach (beyond its last id): resume_gap first, then the whole log, then live entries', async () => {
    const ids = [await add(1), await add(2)];
    const { fanout, reader, connect } = fanoutOver(textLog, settings);
    const { client, transport } = connect();
    const future = '9999999999999-0';
    await expect(fanout.subscribe(client, spec({ sessions: [session], resumeFrom: future }))).resolves.toBe(true);
    await settle(20);
    const live = await add(3);
    // What the reader's loop would hand over: entries after its starting id.
    expect(reader.positionOf(session)).toBe(ids[1]);
    fanout.deliverText(session, (await textLog.range(session, ids[1], 10)).entries);
    expect(transport.types()).toEqual(['subscribed', 'resume_gap', 'event', 'event', 'event']);
    expect(transport.sent[1]).toMatchObject({ sub: 'sub', session_id: session, requested: future, oldest_available: ids[0] });
    expect(transport.sent.slice(2).map((m) => m.id)).toEqual([...ids, live]);
  });

  it('a log that expired and began again after the resume point: resume_gap before the replay of what it holds', async () => {
    const old = `${Date.now() - 3_600_000}-0`;
    await redis.del(settings.keys.textLog(session));
    const ids = [await add(1), await add(2)];
    const { fanout, connect } = fanoutOver(textLog, settings);
    const { client, transport } = connect();
    await expect(fanout.subscribe(client, spec({ sessions: [session], resumeFrom: old }))).resolves.toBe(true);
    await settle(20);
    expect(transport.types()).toEqual(['subscribed', 'resume_gap', 'event', 'event']);
    expect(transport.sent[1]).toMatchObject({ requested: old, oldest_available: ids[0] });
    expect(transport.sent.slice(2).map((m) => m.id)).toEqual(ids);
  });
});
