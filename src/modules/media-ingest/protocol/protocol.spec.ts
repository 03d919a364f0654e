import { RtmsMessageType } from '../../../zoom/rtms-enums';
import type { CapturePolicy } from '../../sessions';
import { dataHandshake, mediaParamsFor, planMediaSockets, rtmsSignature, signalingHandshake } from './handshake';
import { AudioSlab, decodeBase64, parseRtmsFrame, toMediaItem } from './rtms-message-parser';
import { classifyStatus, RtmsStatusError } from './rtms-status';

const policy: CapturePolicy = {
  media_types: ['audio', 'video', 'deskshare', 'transcript', 'chat'],
  include_user_ids: [],
  exclude_user_ids: [],
  video: { skip_first_frames: 0, interval_ms: 1000, max_frames_per_user: 0, store: true },
  deskshare: { skip_first_frames: 0, interval_ms: 1000, max_frames_per_user: 0, store: true },
  audio: { mode: 'mixed', segment_seconds: 10, store: true },
  transcript: { enabled: true, src_language: 9, store: true },
  chat: { enabled: true, store: true },
};

describe('RTMS protocol helpers', () => {
  it('signs the handshake like rtms-protocol.md §6', () => {
    expect(rtmsSignature('test_client_id', 'test_client_secret', '4444AAAiAAAAAiAiAiiAii==', '03db704592624398931a588dd78200cb')).toBe(
      'b652bb12b91a9fe177dd15655215e0f9d71cd96595aa3a06bf678b9dd9e91c8d',
    );
  });

  it('builds msg 1 and msg 3 with the documented fields', () => {
    const id = { meetingIdentity: 'u==', rtmsStreamId: 's1', signature: 'sig' };
    expect(signalingHandshake(id)).toEqual({ msg_type: 1, protocol_version: 1, sequence: 1, meeting_uuid: 'u==', rtms_stream_id: 's1', signature: 'sig' });
    const params = mediaParamsFor(['audio', 'transcript'], policy);
    const msg = dataHandshake(id, ['audio', 'transcript'], params);
    expect(msg).toMatchObject({ msg_type: 3, protocol_version: 1, sequence: 0, media_type: 9, payload_encryption: false });
    expect(msg.media_params).toEqual({
      audio: { content_type: 2, sample_rate: 1, channel: 1, codec: 1, data_opt: 1, send_rate: 100 },
      transcript: { content_type: 5, src_language: 9, enable_lid: false },
    });
    expect(mediaParamsFor(['audio'], { ...policy, audio: { mode: 'per_participant', segment_seconds: 10, store: true } }).audio?.data_opt).toBe(2);
  });

  it('asks for video and deskshare as the policy says: JPG from interval_ms by default, H.264 at the fps and resolution asked', () => {
    expect(mediaParamsFor(['video', 'deskshare'], policy)).toEqual({
      video: { content_type: 3, codec: 5, resolution: 2, data_opt: 3, fps: 1 },
      deskshare: { content_type: 3, codec: 5, resolution: 2, fps: 1 },
    });
    const h264 = {
      ...policy,
      video: { ...policy.video, format: 'h264' as const, fps: 25, resolution: 'fhd' as const },
      deskshare: { ...policy.deskshare, format: 'h264' as const, fps: 10, resolution: 'qhd' as const },
    };
    expect(mediaParamsFor(['video', 'deskshare'], h264)).toEqual({
      // data_opt 3: the active speaker's video, as with JPG.
      video: { content_type: 3, codec: 7, resolution: 3, data_opt: 3, fps: 25 },
      deskshare: { content_type: 3, codec: 7, resolution: 4, fps: 10 },
    });
    expect(mediaParamsFor(['video'], { ...policy, video: { ...policy.video, format: 'png', resolution: 'sd', fps: 4 } }).video).toEqual({ content_type: 3, codec: 6, resolution: 1, data_opt: 3, fps: 4 });
  });

  it('plans one all socket or one per type, dropping types without a URL', () => {
    const urls = { all: 'ws://h/all', audio: 'ws://h/audio', video: 'ws://h/video' };
    // A missing transcript key means no scope; chat has no key of its own even with the scope: asked on `all` (handshake.spec.ts).
    expect(planMediaSockets(urls, ['audio', 'video', 'transcript', 'chat'], 'all')).toEqual({ sockets: [{ key: 'all', url: 'ws://h/all', types: ['audio', 'video', 'chat'] }], unavailable: ['transcript'] });
    expect(planMediaSockets(urls, ['audio', 'video'], 'split').sockets.map((s) => s.key)).toEqual(['audio', 'video']);
    expect(planMediaSockets({ all: 'ws://h/all' }, ['audio', 'chat'], 'split').sockets).toEqual([{ key: 'all', url: 'ws://h/all', types: ['audio', 'chat'] }]);
  });

  it('parses JSON from text and binary frames and rejects junk', () => {
    expect(parseRtmsFrame(Buffer.from('{"msg_type":12,"timestamp":5}'), 1000)).toMatchObject({ ok: true, message: { msg_type: 12, timestamp: 5 } });
    expect(parseRtmsFrame(new Uint8Array(Buffer.from('{"msg_type":13}')).buffer, 1000)).toMatchObject({ ok: true });
    expect(parseRtmsFrame(Buffer.from('{"msg_type":'), 1000)).toMatchObject({ ok: false, reason: 'bad_json' });
    expect(parseRtmsFrame(Buffer.from('[1]'), 1000)).toMatchObject({ ok: false, reason: 'not_an_object' });
    expect(parseRtmsFrame(Buffer.from('{"a":1}'), 1000)).toMatchObject({ ok: false, reason: 'no_msg_type' });
    expect(parseRtmsFrame(Buffer.alloc(2000, 32), 1000)).toMatchObject({ ok: false, reason: 'oversized' });
  });

  it('turns media messages into items, data kept as received', () => {
    const data = Buffer.alloc(640).toString('base64');
    const ok = toMediaItem({ msg_type: 14, content: { user_id: 0, data, length: 640, timestamp: 100 } }, 7);
    expect(ok).toEqual({ ok: true, lengthMismatch: false, bytes: Buffer.alloc(640), item: { msgType: 14, userId: 0, timestamp: 100, data, receivedAt: 7, meta: { length: 640 } } });
    expect(toMediaItem({ msg_type: 14, content: { user_id: 1, data: '!!!', timestamp: 1 } }, 0)).toEqual({ ok: false, reason: 'bad_base64' });
    for (const bad of ['!!!!', 'AA=A', 'AAA-', 'AA_A', 'AA AA A=', 'AAAA====', 'A===']) {
      expect(toMediaItem({ msg_type: 14, content: { user_id: 1, data: bad, timestamp: 1 } }, 0)).toEqual({ ok: false, reason: 'bad_base64' });
    }
    const decoded = toMediaItem({ msg_type: 14, content: { user_id: 1, data: Buffer.from([1, 2, 3, 4]).toString('base64'), timestamp: 1 } }, 0);
    expect(decoded.ok && decoded.bytes).toEqual(Buffer.from([1, 2, 3, 4]));
    expect(toMediaItem({ msg_type: 15, content: {} }, 0)).toEqual({ ok: false, reason: 'missing_data' });
    expect(toMediaItem({ msg_type: 15 }, 0)).toEqual({ ok: false, reason: 'missing_content' });
    const t = toMediaItem({ msg_type: RtmsMessageType.MediaDataTranscript, content: { user_id: 3, user_name: 'A', data: 'hello', timestamp: 9, start_time: 1, end_time: 2, language: 9 } }, 0);
    expect(t).toMatchObject({ ok: true, item: { userName: 'A', data: 'hello', meta: { start_time: 1, end_time: 2, language: 9 } } });
  });

  it('decodes audio back to back into slabs: each packet keeps its own bytes, across slabs', () => {
    const slab = new AudioSlab();
    const packets = Array.from({ length: 1000 }, (_, i) => Buffer.alloc(640 + (i % 3), i % 256)); // 641 KB: three slabs
    const decoded = packets.map((p) => decodeBase64(p.toString('base64'), slab));
    decoded.forEach((d, i) => expect(d?.equals(packets[i])).toBe(true));
    // Refused input takes no room and leaves earlier packets alone.
    for (const bad of ['AA=A', 'AAA-', '!!!!', 'AA AA A=']) expect(decodeBase64(bad, slab)).toBeNull();
    const next = decodeBase64(Buffer.from([9, 9, 9]).toString('base64'), slab);
    expect(next).toEqual(Buffer.from([9, 9, 9]));
    expect(decoded[999]?.equals(packets[999])).toBe(true);
    // A payload too big for a slab gets a buffer of its own.
    const big = Buffer.alloc(AudioSlab.MAX_PAYLOAD + 3, 7);
    expect(decodeBase64(big.toString('base64'), slab)?.equals(big)).toBe(true);
  });

  it('maps status codes to named permanent / retryable errors', () => {
    expect(new RtmsStatusError('signaling', 3, 'bad sig')).toMatchObject({ statusName: 'INVALID_SIGNATURE', permanent: true });
    expect(new RtmsStatusError('signaling', 8, '')).toMatchObject({ statusName: 'DUPLICATE_SIGNAL_REQUEST', permanent: false, statusClass: 'retryable' });
    expect(classifyStatus(17, 'Duplicate signal request')).toBe('retryable');
    expect(classifyStatus(2)).toBe('stream_gone');
    expect(classifyStatus(22)).toBe('permanent');
  });

  // rtms-protocol.md §2: current numbering (3 signature, 8 dup signal, 15 all-connection exists,
  // 16 dup media, 17 invalid media params, 31 invalid deskshare params) and an older one
  // (15 signature, 17 dup signal, 31 dup media); the reason text wins when it names the status.
  it.each`
    code  | reason                                | msgType | expected
    ${3}  | ${'INVALID_SIGNATURE'}                | ${2}    | ${'permanent'}
    ${3}  | ${''}                                 | ${4}    | ${'permanent'}
    ${8}  | ${'DUPLICATE_SIGNAL_REQUEST'}         | ${2}    | ${'retryable'}
    ${8}  | ${''}                                 | ${2}    | ${'retryable'}
    ${15} | ${'MEDIA_DATA_ALL_CONNECTION_EXIST'}  | ${4}    | ${'retryable'}
    ${15} | ${''}                                 | ${4}    | ${'retryable'}
    ${16} | ${'DUPLICATE_MEDIA_DATA_CONNECTION'}  | ${4}    | ${'retryable'}
    ${17} | ${'INVALID_MEDIA_PARAMS'}             | ${4}    | ${'permanent'}
    ${17} | ${''}                                 | ${4}    | ${'permanent'}
    ${31} | ${'INVALID_MEDIA_DESKSHARE_PARAMS'}   | ${4}    | ${'permanent'}
    ${31} | ${'invalid media deskshare params'}   | ${4}    | ${'permanent'}
    ${2}  | ${'INVALID_RTMS_STREAM_ID'}           | ${2}    | ${'stream_gone'}
    ${45} | ${'INTERNAL_EXCEPTION'}               | ${2}    | ${'retryable'}
    ${15} | ${'INVALID_SIGNATURE'}                | ${2}    | ${'permanent'}
    ${15} | ${''}                                 | ${2}    | ${'permanent'}
    ${15} | ${'INVALID_SIGNATURE'}                | ${4}    | ${'permanent'}
    ${17} | ${'DUPLICATE_SIGNAL_REQUEST'}         | ${2}    | ${'retryable'}
    ${17} | ${'Duplicate signal request'}         | ${2}    | ${'retryable'}
    ${17} | ${'duplicate_signal_request'}         | ${undefined} | ${'retryable'}
    ${17} | ${''}                                 | ${2}    | ${'retryable'}
    ${31} | ${'DUPLICATE_MEDIA_DATA_CONNECTION'}  | ${4}    | ${'retryable'}
    ${31} | ${'duplicate media data connection'}  | ${4}    | ${'retryable'}
    ${31} | ${''}                                 | ${4}    | ${'retryable'}
    ${31} | ${''}                                 | ${2}    | ${'permanent'}
    ${17} | ${''}                                 | ${undefined} | ${'permanent'}
    ${15} | ${''}                                 | ${undefined} | ${'retryable'}
  `('classifies status $code ($reason) in msg $msgType as $expected', ({ code, reason, msgType, expected }) => {
    expect(classifyStatus(code, reason, msgType)).toBe(expected);
    const socket = msgType === 4 ? 'media' : 'signaling';
    expect(new RtmsStatusError(socket, code, reason, msgType).statusClass).toBe(expected);
  });
});
