import { QueueName } from '../src/jobs/queue-names';
import type { ParticipantScript } from '../src/simulator';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { LiveTestClient, type LiveText } from './utils/live-test-client';
import type { EntrypointProcess } from './utils/processes';
import type { TestApp } from './utils/test-app';
import { waitFor } from './utils/wait-for';

jest.setTimeout(120_000);

/** WORKER_QUEUES empty = every queue. */
const ALL_WORKER_QUEUES = '';

/**
 * Live delivery end to end, as deployed: the API (this process, no processors) serves the
 * clients; a real worker process (every queue) captures the simulated meeting and
 * publishes through Redis; a second API process serves clients of the same session.
 */
describe('Live delivery: simulator → worker process → Redis → API processes → app clients', () => {
  const ctx = useE2eContext({
    simulator: { keepAliveIntervalMs: 1000, speed: 4, videoScale: 0.25 },
    hub: { api: true },
    env: () => ({ LIVE_REGISTRY_POLL_MS: '100', LIVE_PING_INTERVAL_SEC: '5', RTMS_AUDIO_SEND_RATE_MS: '20' }),
  });
  let worker: EntrypointProcess;
  let secondApi: TestApp;
  const clients: LiveTestClient[] = [];
  const connect = async (app: TestApp = ctx.hub) => {
    const c = await LiveTestClient.connect(app.baseUrl);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    worker = ctx.spawnWorker({ WORKER_QUEUES: ALL_WORKER_QUEUES });
    await waitFor(() => worker.output().includes(`Consuming ${QueueName.RtmsStreams}`), { timeoutMs: 90_000, intervalMs: 200, what: 'the worker process ready' }).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${worker.output().slice(-3000)}`);
    });
    secondApi = await ctx.startApp({ api: true });
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  const sessionOfMeeting = (uuid: string) =>
    waitFor(async () => (await query<{ id: string }>(ctx.hub.app, `SELECT id FROM sessions WHERE meeting_uuid = $1`, [uuid]))[0]?.id, { what: 'the session row' });

  const lines = (n: number, userId: number, offsetMs: number) => Array.from({ length: n }, (_, i) => ({ atMs: 3000 + offsetMs + i * 3000, text: `line ${i} of ${userId}`, durationMs: 1000 }));

  it('every transcript line and chat message in order, per-participant audio complete, resume after a disconnect, two API processes', async () => {
    // A client that takes every session's audio subscribes before the meeting starts: the
    // worker publishes from the first packet, so every packet the simulator sends must arrive.
    const audioClient = await connect();
    await audioClient.subscribe({ id: 'audio', sessions: 'all', media: ['audio'] });

    const participants: ParticipantScript[] = [
      { userId: 201, name: 'Ann', speaks: lines(6, 201, 0), chat: [{ atMs: 5000, text: 'hi all' }, { atMs: 14000, text: 'agenda?' }] },
      { userId: 202, name: 'Bob', speaks: lines(6, 202, 1500), chat: [{ atMs: 9000, text: 'yes' }] },
      { userId: 203, name: 'Cy', joinAtMs: 6000, leaveAtMs: 16000 },
    ];
    const meeting = ctx.sim.createMeeting({ participants });
    const stream = await ctx.sim.startRtms(meeting.id);
    const sessionId = await sessionOfMeeting(meeting.uuid);

    // Text clients: one that stays, one that drops out and resumes, one on the other API process.
    const steady = await connect();
    await steady.subscribe({ id: 'text', sessions: [sessionId], media: ['events', 'transcript', 'chat'], resume_from: '0' });
    const other = await connect(secondApi);
    await other.subscribe({ id: 'text', sessions: [sessionId], media: ['events', 'transcript', 'chat'], resume_from: '0' });
    const flaky = await connect();
    await flaky.subscribe({ id: 'text', sessions: [sessionId], media: ['events', 'transcript', 'chat'], resume_from: '0' });

    await flaky.waitFor(() => flaky.entries('transcript').length >= 1, 'the first transcript line');
    await flaky.close();
    const before = flaky.entries();
    const resumeFrom = flaky.lastEntryId()!;
    // While it is away, the meeting goes on: more lines reach the steady client.
    const seenAtDrop = steady.entries('transcript').length;
    await steady.waitFor(() => steady.entries('transcript').length >= seenAtDrop + 3, 'three more lines while the client is away');
    const resumed = await connect();
    await resumed.subscribe({ id: 'text', sessions: [sessionId], media: ['events', 'transcript', 'chat'], resume_from: resumeFrom });

    // The meeting ends; everything the simulator sent must have arrived.
    const rec = () => ctx.sim.record(stream.streamId);
    await waitFor(() => (rec().messagesSent.byType[17] ?? 0) >= 12 && (rec().messagesSent.byType[18] ?? 0) >= 3, { timeoutMs: 30_000, what: 'the script played' });
    await ctx.sim.stopRtms(stream.streamId, 6);
    const sentTranscript = rec().messagesSent.byType[17];
    const sentChat = rec().messagesSent.byType[18];
    const sawStop = (c: LiveTestClient) => c.entries('event').some((m) => m.data?.event === 'session.status_changed' && m.data?.status === 'stopped');
    for (const c of [steady, other]) await c.waitFor(() => c.entries('transcript').length >= sentTranscript && sawStop(c), 'every line and the stop');
    await resumed.waitFor(() => sawStop(resumed), 'the stop (resumed client)');

    // The steady client: every line and chat message, in the order Zoom sent them, ids increasing.
    const texts = (c: LiveTestClient, type: string) => c.entries(type).map((m) => String(m.data?.text));
    const expectedLines = participants
      .flatMap((p) => (p.speaks ?? []).map((s) => ({ at: s.atMs + (s.durationMs ?? 0), text: s.text })))
      .sort((a, b) => a.at - b.at)
      .map((l) => l.text);
    expect(steady.entries('transcript')).toHaveLength(sentTranscript);
    expect(texts(steady, 'transcript')).toEqual(expectedLines);
    expect(texts(steady, 'chat')).toEqual(['hi all', 'yes', 'agenda?']);
    expect(steady.entries('chat')).toHaveLength(sentChat);
    expectIncreasingIds(steady.entries());
    expect(steady.entries('transcript')[0]).toMatchObject({ sub: 'text', session_id: sessionId, data: { user_id: 201, user_name: 'Ann', text: expectedLines[0] } });
    const events = steady.entries('event').map((m) => m.data?.event);
    expect(events).toEqual(expect.arrayContaining(['participant.joined', 'participant.left', 'active_speaker.changed', 'session.status_changed']));
    const joined = steady.entries('event').filter((m) => m.data?.event === 'participant.joined').map((m) => Number(m.data?.user_id));
    expect(new Set(joined)).toEqual(new Set([201, 202, 203]));

    // The other API process delivered the same sequence.
    expect(ids(other.entries())).toEqual(ids(steady.entries()));
    // The client that dropped out got exactly what it missed: no gap, no duplicate.
    expect([...ids(before), ...ids(resumed.entries())]).toEqual(ids(steady.entries()));

    // Audio: per participant, every packet the simulator sent (±1), as L16 with the session's id.
    await audioClient.waitFor(() => audioClient.frames.filter((f) => f.userId === 201).length >= (rec().messagesSent.byUser['201']?.[14] ?? 1) - 1, 'Ann\'s audio');
    for (const p of participants) {
      const sent = rec().messagesSent.byUser[String(p.userId)]?.[14] ?? 0;
      const got = audioClient.frames.filter((f) => f.userId === p.userId);
      expect(sent).toBeGreaterThan(0);
      expect(Math.abs(got.length - sent)).toBeLessThanOrEqual(1);
      expect(got.every((f) => f.media === 'audio' && f.format === 1 && f.sessionId === sessionId && f.payloadBytes === got[0].payloadBytes && f.payloadBytes > 0)).toBe(true);
      const seqs = got.map((f) => f.sequence);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  });
});

const ids = (ms: LiveText[]) => ms.map((m) => m.id);

function expectIncreasingIds(ms: LiveText[]): void {
  const parse = (id: string) => id.split('-').map(Number);
  for (let i = 1; i < ms.length; i++) {
    const [a, as] = parse(ms[i - 1].id!);
    const [b, bs] = parse(ms[i].id!);
    expect(b > a || (b === a && bs > as)).toBe(true);
  }
}
