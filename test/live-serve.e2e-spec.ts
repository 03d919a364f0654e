import { Logger } from '@nestjs/common';
import type { Request } from 'express';
import { randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { Socket } from 'node:net';
import Redis from 'ioredis';
import WebSocket from 'ws';
import { SessionsService } from '../src/modules/sessions';
import { encodeFrame, FrameFormat, FrameHeader, LiveBinaryMedia, LiveCloseCode, LiveTextEntry, liveKeys, packFrames, TEXT_ENTRY_FIELD } from '../src/modules/live/live-protocol';
import { ActiveSessions } from '../src/modules/live/serve/active-sessions';
import { LiveAuth } from '../src/modules/live/serve/live-auth';
import { LiveFanout } from '../src/modules/live/serve/live-fanout.service';
import { TextLog } from '../src/modules/live/serve/text-log';
import { TextLogReader } from '../src/modules/live/serve/text-log-reader';
import { insertSession } from './factories/session.factory';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY, TestApp } from './utils/test-app';
import { waitFor } from './utils/wait-for';

const BUFFER_LIMIT = 128 * 1024;
const keys = liveKeys(process.env.QUEUE_PREFIX!);

type Message = { type: string } & Record<string, unknown>;

/** A live WebSocket client that records everything it receives. */
class LiveTestClient {
  readonly messages: Message[] = [];
  readonly frames: Buffer[] = [];
  closeCode: number | null = null;
  rawSocket: Socket | null = null;

  constructor(readonly ws: WebSocket) {
    ws.on('upgrade', (res) => (this.rawSocket = res.socket as Socket));
    ws.on('message', (data, isBinary) => {
      if (isBinary) this.frames.push(data as Buffer);
      else this.messages.push(JSON.parse(String(data)) as Message);
    });
    ws.on('close', (code) => (this.closeCode = code));
  }

  send(message: unknown): void {
    this.ws.send(JSON.stringify(message));
  }

  of(type: string): Message[] {
    return this.messages.filter((m) => m.type === type);
  }

  async next(type: string, predicate: (m: Message) => boolean = () => true, what = type): Promise<Message> {
    return waitFor(() => this.messages.find((m) => m.type === type && predicate(m)), { what, timeoutMs: 10000 });
  }

  async subscribe(request: Record<string, unknown>): Promise<Message> {
    this.send({ type: 'subscribe', ...request });
    return waitFor(() => this.messages.find((m) => (m.type === 'subscribed' || m.type === 'error') && m.id === request.id), { what: `answer to ${String(request.id)}` });
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise((resolve) => this.ws.once('close', resolve));
    this.ws.terminate();
    await closed;
  }
}

function wsUrl(app: TestApp, query = ''): string {
  return `${app.baseUrl.replace('http', 'ws')}/api/v1/live${query}`;
}

/** Opens a live connection and waits for its welcome. */
async function connect(app: TestApp, options: { headers?: Record<string, string>; query?: string } = {}): Promise<LiveTestClient> {
  const ws = new WebSocket(wsUrl(app, options.query), { headers: options.headers ?? { 'x-api-key': API_KEY } });
  const client = new LiveTestClient(ws);
  clients.push(client);
  await client.next('welcome');
  return client;
}

/** The HTTP status and body of an upgrade the hub refuses. */
function refusedUpgrade(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) as Record<string, unknown> }));
    });
    ws.on('error', () => undefined);
  });
}

type AsyncMethod = (...args: unknown[]) => Promise<unknown>;

/**
 * Spies on an async method: calls that `hold` picks wait until release() before they
 * run; every call is recorded with the promise the caller got. A test parks a request
 * at one await this way, acts (the client leaves), then lets it go on.
 */
function holdCalls(target: object, method: string, hold: (args: unknown[]) => boolean = () => true) {
  const methods = target as Record<string, AsyncMethod>;
  const original = methods[method].bind(target);
  const calls: Array<{ args: unknown[]; result: Promise<unknown>; held: boolean }> = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const spy = jest.spyOn(methods, method).mockImplementation((...args: unknown[]) => {
    const held = hold(args);
    const result = held ? released.then(() => original(...args)) : original(...args);
    calls.push({ args, result, held });
    return result;
  });
  return {
    calls,
    held: () => calls.filter((c) => c.held),
    release,
    /** Resolves once every held call has settled and what awaited it has run on. */
    settled: async () => {
      await Promise.allSettled(calls.filter((c) => c.held).map((c) => c.result));
      await new Promise((resolve) => setImmediate(resolve));
    },
    restore: () => spy.mockRestore(),
  };
}

const clients: LiveTestClient[] = [];
let redis: Redis;
let meetingSeq = 0;

/** The publisher's side of the contract: one text entry in the session's log. */
async function appendText(sessionId: string, media: LiveTextEntry['media'], data: Record<string, unknown>): Promise<string> {
  const entry: LiveTextEntry = { media, session_id: sessionId, ts: Date.now(), data };
  const id = await redis.xadd(keys.textLog(sessionId), '*', TEXT_ENTRY_FIELD, JSON.stringify(entry));
  await redis.zadd(keys.activeSessions, Date.now(), sessionId);
  return id!;
}

function frame(sessionId: string, media: LiveBinaryMedia, userId: number, payloadBytes = 320, sequence = 0): Buffer {
  const header: FrameHeader = { media, sequence, timestamp: Date.now(), sessionId, userId, format: media === 'audio' ? FrameFormat.L16 : FrameFormat.H264 };
  return encodeFrame(header, Buffer.alloc(payloadBytes, 7));
}

async function mediaSubscribers(sessionId: string): Promise<number> {
  const [, count] = (await redis.pubsub('NUMSUB', keys.mediaChannel(sessionId))) as [string, number];
  return Number(count);
}

describe('live serving (WebSocket, SSE, tickets)', () => {
  const ctx = useE2eContext({ hub: { api: true }, env: () => ({ LIVE_CLIENT_BUFFER_BYTES: String(BUFFER_LIMIT) }) });

  const newSession = () => insertSession(ctx.hub, { meetingUuid: `live-${randomUUID()}-${++meetingSeq}` });

  beforeAll(() => {
    redis = new Redis(process.env.REDIS_URL!);
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
  });

  afterAll(async () => {
    await redis.quit();
  });

  describe('authentication before the upgrade', () => {
    it('refuses no key, a wrong key and an unknown path with a real HTTP answer', async () => {
      await expect(refusedUpgrade(wsUrl(ctx.hub))).resolves.toMatchObject({ status: 401, body: { error: 'invalid_api_key' } });
      await expect(refusedUpgrade(wsUrl(ctx.hub), { 'x-api-key': 'wrong' })).resolves.toMatchObject({ status: 401 });
      await expect(refusedUpgrade(wsUrl(ctx.hub), { authorization: 'Bearer wrong' })).resolves.toMatchObject({ status: 401 });
      await expect(refusedUpgrade(`${ctx.hub.baseUrl.replace('http', 'ws')}/api/v1/elsewhere`, { 'x-api-key': API_KEY })).resolves.toMatchObject({ status: 404 });
    });

    it('accepts a Bearer key and says welcome', async () => {
      const client = await connect(ctx.hub, { headers: { authorization: `Bearer ${API_KEY}` } });
      expect(client.of('welcome')[0]).toMatchObject({ resume_window_sec: expect.any(Number), max_buffer_bytes: BUFFER_LIMIT, connection_id: expect.any(String) });
    });

    it('takes a ticket once; a made-up or used ticket gets 401', async () => {
      const sessionId = await newSession();
      const res = await ctx.http().post('/api/v1/live/tickets').set('x-api-key', API_KEY).send({ session_ids: [sessionId] }).expect(201);
      expect(res.body).toEqual({ ticket: expect.any(String), expires_at: expect.any(String) });
      await ctx.http().post('/api/v1/live/tickets').send({}).expect(401);
      await expect(refusedUpgrade(wsUrl(ctx.hub, '?ticket=made-up'))).resolves.toMatchObject({ status: 401, body: { error: 'invalid_live_ticket' } });

      const client = await connect(ctx.hub, { headers: {}, query: `?ticket=${encodeURIComponent(res.body.ticket as string)}` });
      // The ticket names one session: others are refused in-band.
      const other = await newSession();
      await expect(client.subscribe({ id: 'o', sessions: [other], media: ['events'] })).resolves.toMatchObject({ type: 'error', code: 'live_session_not_allowed' });
      await expect(client.subscribe({ id: 'ok', sessions: [sessionId], media: ['events'] })).resolves.toMatchObject({ type: 'subscribed' });

      await expect(refusedUpgrade(wsUrl(ctx.hub, `?ticket=${encodeURIComponent(res.body.ticket as string)}`))).resolves.toMatchObject({ status: 401 });
    });
  });

  describe('subscriptions and text', () => {
    it('answers bad requests in-band and keeps the connection; cuts repeated garbage and binary', async () => {
      const client = await connect(ctx.hub);
      client.send({ type: 'subscribe', id: 'x', sessions: 'all', media: ['nope'] });
      await client.next('error', (m) => m.code === 'bad_request');
      await expect(client.subscribe({ id: 'gone', sessions: [randomUUID()], media: ['events'] })).resolves.toMatchObject({ type: 'error', code: 'session_not_found' });
      client.send({ type: 'unsubscribe', id: 'never' });
      await client.next('error', (m) => m.code === 'unknown_subscription');
      expect(client.ws.readyState).toBe(WebSocket.OPEN);

      for (let i = 0; i < 5; i++) client.ws.send('garbage');
      await waitFor(() => client.closeCode, { what: 'the protocol-error close' });
      expect(client.closeCode).toBe(LiveCloseCode.ProtocolError);

      const binary = await connect(ctx.hub);
      binary.ws.send(Buffer.from([1, 2, 3]));
      await waitFor(() => binary.closeCode, { what: 'the close after a binary message' });
      expect(binary.closeCode).toBe(LiveCloseCode.ProtocolError);
    });

    it('delivers a session’s text in id order, filtered by media, with the subscription and entry ids', async () => {
      const sessionId = await newSession();
      const client = await connect(ctx.hub);
      await expect(client.subscribe({ id: 'tx', sessions: [sessionId], media: ['transcript'] })).resolves.toMatchObject({ type: 'subscribed', id: 'tx' });
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) {
        ids.push(await appendText(sessionId, 'transcript', { user_id: 1, text: `line ${i}` }));
        if (i % 10 === 0) await appendText(sessionId, 'chat', { user_id: 1, text: 'not subscribed' });
      }
      await waitFor(() => client.of('transcript').length >= 30, { what: '30 transcript lines' });
      const got = client.of('transcript');
      expect(got.map((m) => m.id)).toEqual(ids);
      expect(got[0]).toMatchObject({ sub: 'tx', session_id: sessionId, data: { text: 'line 0' } });
      expect(client.of('chat')).toEqual([]);

      client.send({ type: 'unsubscribe', id: 'tx' });
      await client.next('unsubscribed');
    });

    it('resumes after a disconnect with exactly the missed entries, then live, no duplicates', async () => {
      const sessionId = await newSession();
      const first = await connect(ctx.hub);
      await first.subscribe({ id: 'a', sessions: [sessionId], media: ['transcript', 'events'] });
      const before: string[] = [];
      for (let i = 0; i < 5; i++) before.push(await appendText(sessionId, 'transcript', { user_id: 1, text: `before ${i}` }));
      await waitFor(() => first.of('transcript').length === 5, { what: 'the first five' });
      await first.close();

      const missed: string[] = [];
      for (let i = 0; i < 450; i++) missed.push(await appendText(sessionId, i % 2 ? 'events' : 'transcript', { user_id: 1, event: 'participant.joined', text: `missed ${i}` }));

      const second = await connect(ctx.hub);
      await second.subscribe({ id: 'a', sessions: [sessionId], media: ['transcript', 'events'], resume_from: before[4] });
      // Live entries while the replay runs.
      const live: string[] = [];
      for (let i = 0; i < 20; i++) live.push(await appendText(sessionId, 'transcript', { user_id: 1, text: `live ${i}` }));
      const expected = [...missed, ...live];
      await waitFor(() => second.messages.filter((m) => m.sub === 'a').length >= expected.length, { what: 'replay and live' });
      expect(second.messages.filter((m) => m.sub === 'a').map((m) => m.id)).toEqual(expected);
      expect(second.of('resume_gap')).toEqual([]);
    });

    it('announces a resume gap when the log was trimmed past the resume point, then replays what is left', async () => {
      const sessionId = await newSession();
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) ids.push(await appendText(sessionId, 'transcript', { user_id: 1, text: `t${i}` }));
      await redis.xtrim(keys.textLog(sessionId), 'MINID', ids[3]);

      const client = await connect(ctx.hub);
      await client.subscribe({ id: 'g', sessions: [sessionId], media: ['transcript'], resume_from: ids[0] });
      const gap = await client.next('resume_gap');
      expect(gap).toMatchObject({ sub: 'g', session_id: sessionId, requested: ids[0], oldest_available: ids[3] });
      await waitFor(() => client.of('transcript').length === 3, { what: 'what the log still holds' });
      expect(client.of('transcript').map((m) => m.id)).toEqual(ids.slice(3));
      expect(client.messages.indexOf(gap)).toBeLessThan(client.messages.indexOf(client.of('transcript')[0]));
    });

    it('reads a session that starts writing after an `all` subscriber arrived, from its first entry', async () => {
      const client = await connect(ctx.hub);
      await client.subscribe({ id: 'every', sessions: 'all', media: ['events'] });
      const sessionId = await newSession();
      const first = await appendText(sessionId, 'events', { event: 'session.status_changed', status: 'streaming' });
      await redis.publish(keys.announce, sessionId);
      const second = await appendText(sessionId, 'events', { event: 'session.status_changed', status: 'stopped' });
      await waitFor(() => client.of('event').filter((m) => m.session_id === sessionId).length === 2, { what: "the new session's events" });
      expect(client.of('event').filter((m) => m.session_id === sessionId).map((m) => m.id)).toEqual([first, second]);
    });
    it('goes on from where it was in a session that went quiet and became active again, sending nothing twice', async () => {
      const client = await connect(ctx.hub);
      await client.subscribe({ id: 'every', sessions: 'all', media: ['events'] });
      const sessionId = await newSession();
      const first = await appendText(sessionId, 'events', { event: 'session.status_changed', status: 'streaming' });
      await redis.publish(keys.announce, sessionId);
      const ofSession = () => client.of('event').filter((m) => m.session_id === sessionId);
      await waitFor(() => ofSession().length === 1, { what: 'the first event' });
      // The session leaves the active set (its text is older than the resume window), then writes again.
      const active = ctx.hub.app.get(ActiveSessions) as unknown as { listener: (added: string[], removed: string[]) => void };
      active.listener([], [sessionId]);
      const second = await appendText(sessionId, 'events', { event: 'session.status_changed', status: 'paused' });
      active.listener([sessionId], []);
      await waitFor(() => ofSession().length >= 2, { what: 'the event after the session came back' });
      const third = await appendText(sessionId, 'events', { event: 'session.status_changed', status: 'stopped' });
      await waitFor(() => ofSession().some((m) => m.id === third), { what: 'the live event after it' });
      expect(ofSession().map((m) => m.id)).toEqual([first, second, third]);
    });
  });

  describe('media', () => {
    it('sends frames only to matching subscribers and keeps the registry in step', async () => {
      const sessionId = await newSession();
      const audio = await connect(ctx.hub);
      const video = await connect(ctx.hub);
      await audio.subscribe({ id: 'au', sessions: [sessionId], media: ['audio'], participants: [5] });
      await video.subscribe({ id: 'vi', sessions: [sessionId], media: ['video'] });
      const registry = keys.mediaWanted(sessionId);
      await waitFor(async () => (await redis.zrange(registry, 0, -1)).some((m) => m.endsWith('|audio,video')), { what: 'the registry member' });
      const [member] = await redis.zrange(registry, 0, -1);
      expect(Number(await redis.zscore(registry, member))).toBeGreaterThan(Date.now());
      // The key expires on its own if every process that wanted it dies (refreshed with its members).
      expect(await redis.pttl(registry)).toBeGreaterThan(0);
      await waitFor(async () => (await mediaSubscribers(sessionId)) === 1, { what: 'the media channel subscription' });

      const a5 = frame(sessionId, 'audio', 5);
      const a6 = frame(sessionId, 'audio', 6);
      const mixed = frame(sessionId, 'audio', 0);
      const v = frame(sessionId, 'video', 6, 2000);
      await redis.publish(keys.mediaChannel(sessionId), packFrames([a5, a6, v, mixed]));
      await waitFor(() => audio.frames.length === 2 && video.frames.length === 1, { what: 'the frames' });
      expect(audio.frames.map((f) => f.equals(a5) || f.equals(mixed))).toEqual([true, true]);
      expect(video.frames[0].equals(v)).toBe(true);

      audio.send({ type: 'unsubscribe', id: 'au' });
      await audio.next('unsubscribed');
      await waitFor(async () => (await redis.zrange(registry, 0, -1)).some((m) => m.endsWith('|video')), { what: 'the member without audio' });
      await video.close();
      await waitFor(async () => (await redis.zcard(registry)) === 0, { what: 'the member removed' });
      await waitFor(async () => (await mediaSubscribers(sessionId)) === 0, { what: 'the channel unsubscribed' });
    });

    it('sends a frame once to a client whose two subscriptions match it', async () => {
      const sessionId = await newSession();
      const client = await connect(ctx.hub);
      await client.subscribe({ id: 'one', sessions: [sessionId], media: ['audio'] });
      await client.subscribe({ id: 'every', sessions: 'all', media: ['audio'] });
      await waitFor(async () => (await redis.zcard(keys.mediaWanted('*'))) > 0, { what: 'the all-sessions member' });
      const [, patterns] = await waitFor(async () => {
        const n = Number(await redis.pubsub('NUMPAT'));
        return n > 0 ? [true, n] : null;
      });
      expect(patterns).toBeGreaterThan(0);
      const f1 = frame(sessionId, 'audio', 1, 320, 1);
      const f2 = frame(sessionId, 'audio', 1, 320, 2);
      await redis.publish(keys.mediaChannel(sessionId), packFrames([f1]));
      await redis.publish(keys.mediaChannel(sessionId), packFrames([f2]));
      // Pub/sub keeps a channel's order: a second copy of f1 would arrive before f2.
      await waitFor(() => client.frames.some((f) => f.equals(f2)), { what: 'the second frame' });
      expect(client.frames.map((f) => (f.equals(f1) ? 'f1' : f.equals(f2) ? 'f2' : '?'))).toEqual(['f1', 'f2']);
    });
  });

  describe('backpressure', () => {
    it('cuts a client that never reads with TooSlow, never buffering past the limit (+ one message)', async () => {
      const sessionId = await newSession();
      const slow = await connect(ctx.hub);
      await slow.subscribe({ id: 's', sessions: [sessionId], media: ['transcript', 'video', 'audio'] });
      await waitFor(async () => (await mediaSubscribers(sessionId)) === 1, { what: 'the media channel subscription' });
      const fanout = ctx.hub.app.get(LiveFanout);
      const connectionId = slow.of('welcome')[0].connection_id;
      const server = fanout.connectedClients().find((c) => c.id === connectionId)!;
      expect(server).toBeDefined();
      slow.rawSocket!.pause();

      const bigText = 'x'.repeat(2000);
      const video = frame(sessionId, 'video', 3, 60_000);
      let rounds = 0;
      while (!server.closed) {
        expect(++rounds).toBeLessThan(2000);
        await redis.publish(keys.mediaChannel(sessionId), packFrames([video, video, video, video]));
        await appendText(sessionId, 'transcript', { user_id: 1, text: bigText });
      }
      expect(server.peakBufferedBytes).toBeLessThanOrEqual(BUFFER_LIMIT);
      expect(fanout.connectedClients()).not.toContain(server);

      slow.rawSocket!.resume();
      await waitFor(() => slow.closeCode, { what: 'the close frame', timeoutMs: 20000 });
      expect(slow.closeCode).toBe(LiveCloseCode.TooSlow);
      expect(slow.of('media_dropped').length).toBeGreaterThan(0);
    });
  });

  describe('SSE', () => {
    it('streams a session’s text and resumes from Last-Event-ID', async () => {
      const sessionId = await newSession();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push(await appendText(sessionId, 'transcript', { user_id: 1, text: `s${i}` }));

      await ctx.http().get(`/api/v1/sessions/${sessionId}/live?types=audio`).set('x-api-key', API_KEY).expect(400);
      await ctx.http().get(`/api/v1/sessions/${randomUUID()}/live`).set('x-api-key', API_KEY).expect(404);
      await ctx.http().get(`/api/v1/sessions/${sessionId}/live`).expect(401);

      const { events, headers, close } = await openSse(ctx.hub, `/api/v1/sessions/${sessionId}/live?types=transcript,chat`, { 'x-api-key': API_KEY, 'last-event-id': ids[0] });
      try {
        expect(headers['content-type']).toMatch(/^text\/event-stream/);
        expect(headers['x-accel-buffering']).toBe('no');
        expect(headers['cache-control']).toMatch(/no-cache/);
        const live = await appendText(sessionId, 'transcript', { user_id: 1, text: 'live' });
        await waitFor(() => events.filter((e) => e.event === 'transcript').length === 3, { what: 'replayed and live events' });
        const transcript = events.filter((e) => e.event === 'transcript');
        expect(transcript.map((e) => e.id)).toEqual([ids[1], ids[2], live]);
        expect(JSON.parse(transcript[2].data)).toMatchObject({ type: 'transcript', id: live, data: { text: 'live' } });
      } finally {
        close();
      }
      await waitFor(() => ctx.hub.app.get(LiveFanout).connectedClients().every((c) => c.transport.kind !== 'sse'), { what: 'the SSE client gone' });
    });
  });

  describe('clients that leave before they are set up', () => {
    /** Ids of the hub's live clients of a transport. */
    const liveClients = (kind: 'ws' | 'sse') => ctx.hub.app.get(LiveFanout).connectedClients().filter((c) => c.transport.kind === kind).map((c): string => c.id);
    const spies: Array<{ restore(): void; release(): void }> = [];
    const hold = (...args: Parameters<typeof holdCalls>) => {
      const spy = holdCalls(...args);
      spies.push(spy);
      return spy;
    };
    afterEach(() => {
      for (const spy of spies.splice(0)) {
        spy.release();
        spy.restore();
      }
    });

    it.each(['authenticating', 'looking up the session'])('keeps nothing of an SSE client that left while %s', async (step) => {
      const sessionId = await newSession();
      const auth = hold(ctx.hub.app.get(LiveAuth), 'authenticate', () => step === 'authenticating');
      const lookup = hold(ctx.hub.app.get(SessionsService), 'get', ([id]) => id === sessionId);
      const req = http.get(`${ctx.hub.baseUrl}/api/v1/sessions/${sessionId}/live`, { headers: { 'x-api-key': API_KEY } });
      req.on('error', () => undefined);
      const parked = step === 'authenticating' ? auth : lookup;
      await waitFor(() => parked.held().length === 1, { what: `the request parked while ${step}` });
      const serverRes = (auth.calls[0].args[0] as Request).res!;

      req.destroy();
      await waitFor(() => serverRes.destroyed, { what: 'the server to see the client leave' });
      auth.release();
      await waitFor(() => lookup.held().length === 1, { what: 'the session lookup' });
      lookup.release();
      await lookup.settled();

      expect(liveClients('sse')).toEqual([]);
      expect(ctx.hub.app.get(TextLogReader).isReading(sessionId)).toBe(false);
    });

    it('keeps nothing of a WebSocket client that left while its upgrade was authenticated', async () => {
      const auth = hold(ctx.hub.app.get(LiveAuth), 'authenticate');
      const ws = new WebSocket(wsUrl(ctx.hub), { headers: { 'x-api-key': API_KEY } });
      ws.on('error', () => undefined);
      await waitFor(() => auth.held().length === 1, { what: 'the upgrade parked while authenticating' });
      const socket = (auth.calls[0].args[0] as http.IncomingMessage).socket;

      ws.terminate();
      auth.release();
      await auth.settled();
      // Refused at once, or upgraded and then closed by ws: either way the socket ends, and then no client is left.
      await waitFor(() => socket.destroyed, { what: 'the server socket closed' });
      await waitFor(() => liveClients('ws').length === 0, { what: 'no WebSocket client left' });
    });

    it('stops reading a session whose only SSE client left while its starting id was read', async () => {
      const sessionId = await newSession();
      const lastIds = hold(ctx.hub.app.get(TextLog), 'lastIds', ([ids]) => (ids as string[]).includes(sessionId));
      const req = http.get(`${ctx.hub.baseUrl}/api/v1/sessions/${sessionId}/live`, { headers: { 'x-api-key': API_KEY } });
      req.on('error', () => undefined);
      await waitFor(() => lastIds.held().length === 1, { what: 'the starting id lookup' });
      const server = ctx.hub.app.get(LiveFanout).connectedClients().find((c) => c.subscriptions.get('sse')?.sessions.has(sessionId));
      expect(server).toBeDefined();

      req.destroy();
      await waitFor(() => server!.closed, { what: 'the SSE client gone' });
      lastIds.release();
      await lastIds.settled();

      expect(ctx.hub.app.get(TextLogReader).isReading(sessionId)).toBe(false);
    });

    it('stops reading a newly active session whose only `all` subscriber left while its starting id was read', async () => {
      const client = await connect(ctx.hub);
      await client.subscribe({ id: 'every', sessions: 'all', media: ['events'] });
      const sessionId = await newSession();
      const lastIds = hold(ctx.hub.app.get(TextLog), 'lastIds', ([ids]) => (ids as string[]).includes(sessionId));
      await appendText(sessionId, 'events', { event: 'session.status_changed', status: 'streaming' });
      await redis.publish(keys.announce, sessionId);
      await waitFor(() => lastIds.held().length >= 1, { what: "the new session's starting id lookup" });

      await client.close();
      await waitFor(() => !liveClients('ws').includes(client.of('welcome')[0].connection_id as string), { what: 'the WebSocket client gone' });
      lastIds.release();
      await lastIds.settled();

      expect(ctx.hub.app.get(TextLogReader).isReading(sessionId)).toBe(false);
      expect(ctx.hub.app.get(ActiveSessions).watching).toBe(false);
    });

    it('stops watching active sessions when an `all` subscriber left while they were read', async () => {
      const current = hold(ctx.hub.app.get(ActiveSessions), 'current');
      const client = await connect(ctx.hub);
      client.send({ type: 'subscribe', id: 'every', sessions: 'all', media: ['events'] });
      await waitFor(() => current.held().length === 1, { what: 'the active sessions read' });

      await client.close();
      await waitFor(() => !liveClients('ws').includes(client.of('welcome')[0].connection_id as string), { what: 'the WebSocket client gone' });
      current.release();
      await current.settled();

      expect(ctx.hub.app.get(ActiveSessions).watching).toBe(false);
    });
  });

  describe('SSE query parameters', () => {
    it('answers a repeated parameter with a 400, logged, without spending the ticket', async () => {
      const sessionId = await newSession();
      const warn = jest.spyOn(Logger.prototype, 'warn');
      try {
        const types = await ctx.http().get(`/api/v1/sessions/${sessionId}/live?types=events&types=chat`).set('x-api-key', API_KEY).expect(400);
        expect(types.body).toMatchObject({ statusCode: 400, error: 'invalid_live_types' });
        expect(warn.mock.calls.some(([line]) => String(line).includes('400 invalid_live_types'))).toBe(true);
        await ctx.http().get(`/api/v1/sessions/${sessionId}/live?last_event_id=1-0&last_event_id=2-0`).set('x-api-key', API_KEY).expect(400, /bad_request/);
        await ctx.http().get(`/api/v1/sessions/${sessionId}/live?ticket=a&ticket=b`).expect(400, /bad_request/);
      } finally {
        warn.mockRestore();
      }

      const { body } = await ctx.http().post('/api/v1/live/tickets').set('x-api-key', API_KEY).send({ session_ids: [sessionId] }).expect(201);
      const ticket = encodeURIComponent(body.ticket as string);
      await ctx.http().get(`/api/v1/sessions/${sessionId}/live?types=events&types=chat&ticket=${ticket}`).expect(400, /invalid_live_types/);
      expect(ctx.hub.app.get(LiveFanout).connectedClients().filter((c) => c.transport.kind === 'sse').length).toBe(0);
      // The refused request spent nothing: the ticket still opens the stream.
      const { headers, close } = await openSse(ctx.hub, `/api/v1/sessions/${sessionId}/live?types=events&ticket=${ticket}`, {});
      close();
      expect(headers['content-type']).toMatch(/^text\/event-stream/);
      await waitFor(() => ctx.hub.app.get(LiveFanout).connectedClients().every((c) => c.transport.kind !== 'sse'), { what: 'the SSE client gone' });
    });
  });

  describe('several API processes', () => {
    it('delivers a session to clients of two API apps', async () => {
      const second = await ctx.startApp({ api: true }, { LIVE_CLIENT_BUFFER_BYTES: String(BUFFER_LIMIT) });
      const sessionId = await newSession();
      const a = await connect(ctx.hub);
      const b = await connect(second);
      await a.subscribe({ id: 'x', sessions: [sessionId], media: ['chat', 'audio'] });
      await b.subscribe({ id: 'y', sessions: [sessionId], media: ['chat', 'audio'] });
      await waitFor(async () => (await redis.zcard(keys.mediaWanted(sessionId))) === 2, { what: 'both processes registered' });
      await waitFor(async () => (await mediaSubscribers(sessionId)) === 2, { what: 'both processes subscribed' });
      const id = await appendText(sessionId, 'chat', { user_id: 9, text: 'hi' });
      await redis.publish(keys.mediaChannel(sessionId), packFrames([frame(sessionId, 'audio', 9)]));
      await a.next('chat', (m) => m.id === id);
      await b.next('chat', (m) => m.id === id);
      await waitFor(() => a.frames.length === 1 && b.frames.length === 1, { what: 'the frame on both' });

      // Shutting one process down sends its clients GoingAway (they reconnect elsewhere and resume).
      await ctx.stopApp(second);
      expect(b.closeCode).toBe(LiveCloseCode.GoingAway);
      expect(a.ws.readyState).toBe(WebSocket.OPEN);
      await waitFor(async () => (await redis.zcard(keys.mediaWanted(sessionId))) === 1, { what: "the stopped process's registry member gone" });
    });

    it('cuts a client that does not answer pings', async () => {
      const app = await ctx.startApp({ api: true }, { LIVE_PING_INTERVAL_SEC: '0.1' });
      const ws = new WebSocket(wsUrl(app), { headers: { 'x-api-key': API_KEY }, autoPong: false });
      const client = new LiveTestClient(ws);
      clients.push(client);
      await client.next('welcome');
      await waitFor(() => client.closeCode, { what: 'the ping-timeout close' });
      expect([LiveCloseCode.PingTimeout, 1006]).toContain(client.closeCode);
      await ctx.stopApp(app);
    });
  });

  it('exposes the live metrics', async () => {
    const res = await ctx.http().get('/metrics').set('x-api-key', API_KEY).expect(200);
    for (const name of ['rtms_hub_live_clients', 'rtms_hub_live_subscriptions', 'rtms_hub_live_messages_sent_total', 'rtms_hub_live_bytes_sent_total', 'rtms_hub_live_media_dropped_total', 'rtms_hub_live_clients_closed_total', 'rtms_hub_live_delivery_latency_seconds_bucket']) {
      expect(res.text).toContain(name);
    }
    expect(res.text).toMatch(/rtms_hub_live_clients_closed_total\{reason="too_slow"\} [1-9]/);
    expect(res.text).toMatch(/rtms_hub_live_media_dropped_total\{media="video"\} [1-9]/);
  });
});

interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** A minimal EventSource: parses events as they arrive. */
function openSse(app: TestApp, path: string, headers: Record<string, string>): Promise<{ events: SseEvent[]; headers: http.IncomingHttpHeaders; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${app.baseUrl}${path}`, { headers }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`SSE answered ${res.statusCode}`));
      const events: SseEvent[] = [];
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { data: '' };
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('data: ')) event.data += line.slice(6);
          }
          if (event.event || event.id) events.push(event);
        }
      });
      res.on('error', () => undefined);
      resolve({ events, headers: res.headers, close: () => req.destroy() });
    });
    req.on('error', () => undefined);
  });
}
