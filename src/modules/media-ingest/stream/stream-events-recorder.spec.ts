import { Logger } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import type { MetricsService } from '../../../common/metrics/metrics.service';
import type { AppConfig } from '../../../config/app.config';
import { RtmsEventType, RtmsMessageType, RtmsStreamState } from '../../../zoom/rtms-enums';
import { SessionStatus } from '../../sessions';
import type { SessionEventsService, SessionsService, StreamsService } from '../../sessions';
import type { RtmsMessage } from '../protocol/rtms-message-parser';
import { StreamEventsRecorder } from './stream-events-recorder';

const down = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

/** Fakes of the sessions module that fail while `db.up` is false and log every write. */
function fakes() {
  const db = { up: true, log: [] as string[], commitThenLose: 0, refuse: 0 };
  const guard = () => {
    if (!db.up) throw down();
    if (db.refuse > 0) {
      db.refuse--;
      throw Object.assign(new Error('invalid byte sequence for encoding "UTF8": 0x00'), { code: '22021' });
    }
  };
  const events = {
    recordEvent: jest.fn(async (_s: string, input: { eventType: string; dedupeKey?: string }) => {
      guard();
      if (db.log.includes(`event ${input.eventType} ${input.dedupeKey}`)) throw Object.assign(new Error('duplicate key'), { code: '23505', constraint: 'UQ_session_events_dedupe_key' });
      db.log.push(`event ${input.eventType} ${input.dedupeKey}`);
      // The commit landed but the answer is lost: the caller sees the connection drop.
      if (db.commitThenLose > 0) {
        db.commitThenLose--;
        throw down();
      }
    }),
  };
  const streams = {
    // One transaction: both rows or neither.
    applyPause: jest.fn(async (_id: string, _session: string, paused: boolean) => {
      guard();
      db.log.push(`stream ${paused ? 'paused' : 'active'}`, `session ${paused ? SessionStatus.Paused : SessionStatus.Streaming}`);
    }),
    participantJoined: jest.fn(async (_s: string, user: string) => {
      guard();
      db.log.push(`joined ${user}`);
      return true;
    }),
  };
  const sessions = {
    addReceivedCounts: jest.fn(async (_id: string, delta: Record<string, number>) => {
      guard();
      db.log.push(`counts ${JSON.stringify(delta)}`);
    }),
  };
  const metrics = { counter: () => ({ inc: () => undefined }), gauge: () => ({}) } as unknown as MetricsService;
  const config = { get: () => ({ ingest: { observationBufferMax: 100 } }) } as unknown as ConfigService<AppConfig, true>;
  const recorder = new StreamEventsRecorder(sessions as unknown as SessionsService, events as unknown as SessionEventsService, streams as unknown as StreamsService, metrics, config);
  return { db, recorder };
}

const ref = { sessionId: 'sess', rtmsStreamId: 'stream-1' };
const state = (s: RtmsStreamState) => ({ msg_type: RtmsMessageType.StreamStateUpdate, state: s }) as unknown as RtmsMessage;
const join = (user: number) => ({ msg_type: RtmsMessageType.EventUpdate, event: { event_type: 3, participants: [{ user_id: user, user_name: 'A' }] } }) as unknown as RtmsMessage;
const event = (type: number, extra: Record<string, unknown> = {}) => ({ msg_type: RtmsMessageType.EventUpdate, event: { event_type: type, ...extra } }) as unknown as RtmsMessage;
const written = (log: string[]) => log.map((l) => l.replace(/ worker:[0-9a-f-]+$/, ''));

describe('StreamEventsRecorder', () => {
  it('what it sees while Postgres is down is written in order once it answers: join, pause (stream and session), resume', async () => {
    const { db, recorder } = fakes();
    db.up = false;
    await recorder.event(ref, join(7));
    await recorder.streamState(ref, state(RtmsStreamState.Paused));
    await recorder.streamState(ref, state(RtmsStreamState.Resumed));
    expect(await recorder.settled(ref.rtmsStreamId, 50)).toBe(false);
    expect(recorder.waiting).toBe(3);
    db.up = true;
    expect(await recorder.settled(ref.rtmsStreamId, 5000)).toBe(true);
    expect(written(db.log)).toEqual([
      'joined 7',
      'event rtms.participant_joined',
      'event rtms.stream_state',
      'stream paused',
      `session ${SessionStatus.Paused}`,
      'event rtms.stream_state',
      'stream active',
      `session ${SessionStatus.Streaming}`,
    ]);
  });

  it('a write refused after being retried ends that stream\'s outage: the next outage is logged again', async () => {
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    try {
      const { db, recorder } = fakes();
      const outages = () => warn.mock.calls.filter(([m]) => String(m).startsWith('Postgres unreachable')).length;
      db.up = false;
      await recorder.note(ref, 'stream.reconnect', {});
      expect(await recorder.settled(ref.rtmsStreamId, 50)).toBe(false);
      expect(outages()).toBe(1);
      // Postgres is back but refuses this one write (bad data): an answer all the same.
      db.up = true;
      db.refuse = 1;
      expect(await recorder.settled(ref.rtmsStreamId, 5000)).toBe(true);
      db.up = false;
      await recorder.note({ ...ref, rtmsStreamId: 'stream-2' }, 'stream.reconnect', {});
      expect(await recorder.settled('stream-2', 50)).toBe(false);
      expect(outages()).toBe(2);
      db.up = true;
      expect(await recorder.settled('stream-2', 5000)).toBe(true);
    } finally {
      jest.restoreAllMocks();
    }
  });

  it('an event row whose commit landed before the connection dropped is not written twice', async () => {
    const { db, recorder } = fakes();
    db.commitThenLose = 1;
    await recorder.note(ref, 'stream.reconnect', {});
    await recorder.note(ref, 'stream.handed_over', {});
    expect(await recorder.settled(ref.rtmsStreamId, 5000)).toBe(true);
    expect(written(db.log)).toEqual(['event stream.reconnect', 'event stream.handed_over']);
  });

  it('zero retention (storesPeople false): no participant rows and no event about a person; the stream\'s own events and the counts are written', async () => {
    const { db, recorder } = fakes();
    await recorder.event(ref, join(7), false);
    await recorder.event(ref, event(RtmsEventType.ActiveSpeakerChange, { user_id: 7, user_name: 'A' }), false);
    await recorder.event(ref, event(RtmsEventType.SharingStart, { user_id: 7, user_name: 'A' }), false);
    await recorder.event(ref, event(RtmsEventType.ParticipantVideoOn, { participants: [{ user_id: 7 }] }), false);
    await recorder.event(ref, event(99, { user_name: 'A' }), false);
    await recorder.event(ref, event(RtmsEventType.FirstPacketTimestamp, { timestamp: 1 }), false);
    await recorder.event(ref, event(RtmsEventType.MediaConnectionInterrupted), false);
    recorder.counts(ref, { events: 7, participants_seen: 1 });
    expect(await recorder.settled(ref.rtmsStreamId, 5000)).toBe(true);
    expect(written(db.log)).toEqual(['event rtms.first_packet_timestamp', 'event rtms.media_connection_interrupted', 'counts {"events":7,"participants_seen":1}']);
  });
});
