import { rtmsSignature, signingCredentials } from './handshake';

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
