import { MAX_TRACKED_PARTICIPANTS } from './participant-cap';
import { StreamCounters } from './stream-counters';

describe('StreamCounters', () => {
  it('hands out what was counted since the last take: messages and bytes per media type, events, distinct participants', () => {
    const c = new StreamCounters();
    expect(c.take()).toBeNull();
    c.media('audio', 100);
    c.media('audio', 50);
    c.media('chat', 7);
    c.event();
    c.participant('1');
    c.participant('1');
    c.participant('2');
    expect(c.take()).toEqual({ audio_messages: 2, audio_bytes: 150, chat_messages: 1, chat_bytes: 7, events: 1, participants_seen: 2 });
    expect(c.take()).toBeNull();
    c.media('video', 10);
    // participants_seen is a whole distinct count, reported again only when it changed.
    expect(c.take()).toEqual({ video_messages: 1, video_bytes: 10 });
    c.participant('3');
    expect(c.take()).toEqual({ participants_seen: 3 });
  });

  it('tracks at most MAX_TRACKED_PARTICIPANTS distinct ids', () => {
    const c = new StreamCounters();
    for (let i = 0; i < MAX_TRACKED_PARTICIPANTS + 10; i++) c.participant(String(i));
    expect(c.take()).toEqual({ participants_seen: MAX_TRACKED_PARTICIPANTS });
  });
});
