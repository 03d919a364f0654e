import { liveEventEntries, liveStreamStateEntry } from './live-signaling-entries';

const S = 'session-1';
const event = (ev: Record<string, unknown>) => ({ msg_type: 6, event: ev });

describe('signaling → live events entries', () => {
  it('joins, leaves and video on/off: one entry per participant, at Zoom’s timestamp', () => {
    const join = liveEventEntries(S, event({ event_type: 3, timestamp: 1234, participants: [{ user_id: 101, user_name: 'Ann' }, { user_id: 102, user_name: 'Bob' }, 'junk'] }), 1300);
    expect(join).toEqual([
      { media: 'events', session_id: S, ts: 1234, received_at: 1300, data: { event: 'participant.joined', user_id: 101, user_name: 'Ann' } },
      { media: 'events', session_id: S, ts: 1234, received_at: 1300, data: { event: 'participant.joined', user_id: 102, user_name: 'Bob' } },
    ]);
    expect(liveEventEntries(S, event({ event_type: 4, timestamp: 1, participants: [{ user_id: 101 }] })).map((e) => e.data)).toEqual([{ event: 'participant.left', user_id: 101, user_name: null }]);
    expect(liveEventEntries(S, event({ event_type: 8, timestamp: 1, participants: [{ user_id: 7 }] }))[0].data.event).toBe('participant.video_on');
    expect(liveEventEntries(S, event({ event_type: 9, timestamp: 1, participants: [{ user_id: 7 }] }))[0].data.event).toBe('participant.video_off');
  });

  it('active speaker and sharing: one entry about the user', () => {
    expect(liveEventEntries(S, event({ event_type: 2, timestamp: 5, user_id: 101, user_name: 'Ann' }), 9)).toEqual([
      { media: 'events', session_id: S, ts: 5, received_at: 9, data: { event: 'active_speaker.changed', user_id: 101, user_name: 'Ann' } },
    ]);
    expect(liveEventEntries(S, event({ event_type: 5, timestamp: 5, user_id: 1, user_name: 'A' }))[0].data.event).toBe('sharing.started');
    expect(liveEventEntries(S, event({ event_type: 6, timestamp: 5, user_id: 1, user_name: 'A' }))[0].data.event).toBe('sharing.stopped');
  });

  it('other events (first packet, media interrupted, chat groups, junk) are not published; a missing timestamp is now', () => {
    for (const t of [1, 7, 10, 14, 99]) expect(liveEventEntries(S, event({ event_type: t, timestamp: 1 }))).toEqual([]);
    expect(liveEventEntries(S, { msg_type: 6 })).toEqual([]);
    expect(liveEventEntries(S, event({ event_type: 2, user_id: 1 }), 777)[0].ts).toBe(777);
  });

  it('stream state (msg 8) → stream.state_changed with the state name and reason', () => {
    expect(liveStreamStateEntry(S, { msg_type: 8, state: 5, reason: 0, timestamp: 99 }, 120)).toEqual({
      media: 'events',
      session_id: S,
      ts: 99,
      received_at: 120,
      data: { event: 'stream.state_changed', state: 5, state_name: 'Paused', reason: 0 },
    });
    expect(liveStreamStateEntry(S, { msg_type: 8 }, 3)).toEqual({ media: 'events', session_id: S, ts: 3, received_at: 3, data: { event: 'stream.state_changed', state: null, state_name: null, reason: null } });
  });
});
