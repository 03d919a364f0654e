import { composeRecording } from './compose-decision';

describe('composeRecording (is the recording composed when capture completes?)', () => {
  const video = { video_segment: 3 };
  const audio = { audio_segment: 2 };

  it('follows COMPOSE_RECORDINGS when the policy does not say', () => {
    expect(composeRecording({}, true, video)).toBe(true);
    expect(composeRecording({}, false, video)).toBe(false);
    expect(composeRecording({ recording: { compose: null, participant_audio: 'none' } }, true, audio)).toBe(true);
  });

  it('follows the session policy over the default, both ways', () => {
    expect(composeRecording({ recording: { compose: false } }, true, video)).toBe(false);
    expect(composeRecording({ recording: { compose: true } }, false, audio)).toBe(true);
  });

  it('never composes a session that captured no H.264 video and no audio (frames, chat, transcript only)', () => {
    expect(composeRecording({ recording: { compose: true } }, true, { video_frame: 40, chat: 3 })).toBe(false);
    expect(composeRecording({}, true, {})).toBe(false);
    expect(composeRecording({}, true, { video_segment: 0, audio_segment: 0 })).toBe(false);
  });

  it('ignores a malformed stored policy value (a hand-edited row) and uses the default', () => {
    expect(composeRecording({ recording: { compose: 'yes' } }, false, video)).toBe(false);
    expect(composeRecording({ recording: 'on' }, true, video)).toBe(true);
  });
});
