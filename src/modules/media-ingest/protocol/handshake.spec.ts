import { planMediaSockets, rtmsSignature, signingCredentials } from './handshake';

describe('signingCredentials', () => {
  const zoom = { clientId: 'cid', clientSecret: 'csecret', sdkKey: 'skey', sdkSecret: 'ssecret' };

  it('signs a Video SDK stream with the SDK key and secret, every other product with the RTMS app', () => {
    expect(signingCredentials('video_sdk', zoom)).toEqual({ id: 'skey', secret: 'ssecret' });
    for (const product of ['meeting', 'webinar', 'contact_center']) expect(signingCredentials(product, zoom)).toEqual({ id: 'cid', secret: 'csecret' });
    // What the handshake carries differs accordingly.
    expect(rtmsSignature('skey', 'ssecret', 'sess==', 'st')).not.toBe(rtmsSignature('cid', 'csecret', 'sess==', 'st'));
  });

  it('names the settings missing instead of signing with the wrong app', () => {
    expect(signingCredentials('video_sdk', { clientId: 'cid', clientSecret: 'csecret' })).toBe('ZOOM_SDK_KEY / ZOOM_SDK_SECRET');
    expect(signingCredentials('meeting', { sdkKey: 'skey', sdkSecret: 'ssecret' })).toBe('ZOOM_CLIENT_ID / ZOOM_CLIENT_SECRET');
  });
});

describe('planMediaSockets', () => {
  const five = ['audio', 'video', 'deskshare', 'transcript', 'chat'] as const;
  // rtms-protocol.md §2: msg 2 offers keys for audio, video, transcript and `all`; deskshare and chat are reached through `all`.
  const docShaped = { audio: 'wss://z/audio', video: 'wss://z/video', transcript: 'wss://z/transcript', all: 'wss://z/all' };
  const sixKeys = { ...docShaped, deskshare: 'wss://z/deskshare', chat: 'wss://z/chat' };

  it('all mode, the documented msg 2: asks `all` for share screen and chat too (their scope is unknown, not missing)', () => {
    expect(planMediaSockets(docShaped, five, 'all')).toEqual({ sockets: [{ key: 'all', url: 'wss://z/all', types: [...five] }], unavailable: [] });
  });

  it('all mode: a missing audio, video or transcript key still means no scope', () => {
    const noVideo = { audio: 'wss://z/audio', transcript: 'wss://z/transcript', all: 'wss://z/all' };
    expect(planMediaSockets(noVideo, five, 'all')).toEqual({ sockets: [{ key: 'all', url: 'wss://z/all', types: ['audio', 'deskshare', 'transcript', 'chat'] }], unavailable: ['video'] });
  });

  it('split mode, the documented msg 2: one socket per keyed type, and one `all` socket next to them for share screen and chat', () => {
    expect(planMediaSockets(docShaped, five, 'split')).toEqual({
      sockets: [
        { key: 'audio', url: 'wss://z/audio', types: ['audio'] },
        { key: 'video', url: 'wss://z/video', types: ['video'] },
        { key: 'transcript', url: 'wss://z/transcript', types: ['transcript'] },
        { key: 'all', url: 'wss://z/all', types: ['deskshare', 'chat'] },
      ],
      unavailable: [],
    });
    // Only the wanted ones ride on `all`; without an `all` URL they cannot be reached.
    expect(planMediaSockets(docShaped, ['audio', 'chat'], 'split').sockets.map((s) => [s.key, s.types])).toEqual([
      ['audio', ['audio']],
      ['all', ['chat']],
    ]);
    const { all: _all, ...noAll } = docShaped;
    expect(planMediaSockets(noAll, ['audio', 'chat'], 'split')).toEqual({ sockets: [{ key: 'audio', url: 'wss://z/audio', types: ['audio'] }], unavailable: ['chat'] });
    // Nothing wanted has a key of its own: the `all` socket alone.
    expect(planMediaSockets(docShaped, ['deskshare'], 'split')).toEqual({ sockets: [{ key: 'all', url: 'wss://z/all', types: ['deskshare'] }], unavailable: [] });
  });

  it('msg 2 with a key for every type (six keys) plans as before', () => {
    expect(planMediaSockets(sixKeys, five, 'all')).toEqual({ sockets: [{ key: 'all', url: 'wss://z/all', types: [...five] }], unavailable: [] });
    expect(planMediaSockets(sixKeys, five, 'split')).toEqual({ sockets: five.map((t) => ({ key: t, url: `wss://z/${t}`, types: [t] })), unavailable: [] });
  });

  it('no per-type key at all: asks `all` for everything wanted, in either mode', () => {
    for (const mode of ['all', 'split'] as const) {
      expect(planMediaSockets({ all: 'wss://z/all' }, five, mode)).toEqual({ sockets: [{ key: 'all', url: 'wss://z/all', types: [...five] }], unavailable: [] });
    }
  });

  it('all mode without an `all` URL: per-type sockets for the keyed types only', () => {
    const { all: _all, ...noAll } = docShaped;
    expect(planMediaSockets(noAll, five, 'all')).toEqual({
      sockets: ['audio', 'video', 'transcript'].map((t) => ({ key: t, url: `wss://z/${t}`, types: [t] })),
      unavailable: ['deskshare', 'chat'],
    });
  });
});
