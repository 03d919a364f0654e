import { classifyStatus, RtmsStatusError } from './rtms-status';

// rtms-protocol.md §2: 9–13 MEDIA_TYPE_{AUDIO,VIDEO,DESKSHARE,TRANSCRIPT,CHAT}_NOT_SUPPORT. The hub may
// ask for share screen or chat without knowing the app's scope (msg 2 offers them no key of their
// own), so a media handshake refused with one of these drops the type instead of failing the stream.
describe('media types the app has no scope for (9–13)', () => {
  it.each`
    code  | name                                  | type
    ${9}  | ${'MEDIA_TYPE_AUDIO_NOT_SUPPORT'}      | ${'audio'}
    ${10} | ${'MEDIA_TYPE_VIDEO_NOT_SUPPORT'}      | ${'video'}
    ${11} | ${'MEDIA_TYPE_DESKSHARE_NOT_SUPPORT'}  | ${'deskshare'}
    ${12} | ${'MEDIA_TYPE_TRANSCRIPT_NOT_SUPPORT'} | ${'transcript'}
    ${13} | ${'MEDIA_TYPE_CHAT_NOT_SUPPORT'}       | ${'chat'}
  `('$code in msg 4 refuses $type, not the stream', ({ code, name, type }) => {
    for (const reason of ['', name, name.toLowerCase().replace(/_/g, ' ')]) {
      expect(classifyStatus(code, reason, 4)).toBe('media_type_unavailable');
      expect(new RtmsStatusError('media', code, reason, 4)).toMatchObject({ statusName: name, statusClass: 'media_type_unavailable', permanent: false, mediaType: type });
    }
  });

  it('the reason names the type when it names a status (it decides over the code)', () => {
    expect(new RtmsStatusError('media', 9, 'MEDIA_TYPE_CHAT_NOT_SUPPORT', 4).mediaType).toBe('chat');
    // A reason naming another status: that status's class, and no type to drop.
    expect(new RtmsStatusError('media', 11, 'INVALID_MEDIA_PARAMS', 4)).toMatchObject({ statusClass: 'permanent', mediaType: undefined });
  });

  it('in msg 2 (signaling asks for no media type) they stay permanent', () => {
    expect(classifyStatus(11, '', 2)).toBe('permanent');
    expect(classifyStatus(13, 'MEDIA_TYPE_CHAT_NOT_SUPPORT', 2)).toBe('permanent');
    expect(new RtmsStatusError('signaling', 11, '', 2)).toMatchObject({ statusClass: 'permanent', mediaType: undefined });
  });

  it('other refusals keep no type', () => {
    expect(new RtmsStatusError('media', 14, '', 4)).toMatchObject({ statusClass: 'permanent', mediaType: undefined });
    expect(new RtmsStatusError('media', 16, '', 4)).toMatchObject({ statusClass: 'retryable', mediaType: undefined });
  });
});
