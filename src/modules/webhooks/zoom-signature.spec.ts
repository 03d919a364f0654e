import { urlValidationToken, verifyWebhook, webhookSignature } from './zoom-signature';

// Test vectors from rtms-protocol.md §6.
const SECRET = 'test_webhook_secret_token';
const BODY =
  '{"event":"meeting.rtms_started","payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","operator_id":"30R7kT7bTIKSNUFEuH_Qlg","rtms_stream_id":"03db704592624398931a588dd78200cb","server_urls":"wss://127.0.0.1:8443"},"event_ts":1727384100000}';
const SIGNATURE = 'v0=8c822c54f7396063704837bc21034e38565d724965b06f167a17f7b13222fec8';

describe('Zoom webhook signatures', () => {
  it('computes the URL validation vector', () => {
    expect(urlValidationToken(SECRET, 'qgg8vlvZRS6UYooatFL8Aw')).toBe('86705707a60af11445b569e0e5835093a9ea1db20fbbc21a87829905515dd0c1');
  });

  it('computes the webhook signature vector over the raw body', () => {
    expect(webhookSignature(SECRET, '1727384100', Buffer.from(BODY))).toBe(SIGNATURE);
  });

  const base = { rawBody: Buffer.from(BODY), signature: SIGNATURE, timestamp: '1727384100', secrets: [SECRET], nowSeconds: 1727384100, toleranceSeconds: 300 };

  it('accepts the vector and reports which secret matched', () => {
    expect(verifyWebhook(base)).toEqual({ ok: true, secret: SECRET });
  });

  it('accepts with the right secret among several (rotation)', () => {
    expect(verifyWebhook({ ...base, secrets: ['old-secret', SECRET] })).toEqual({ ok: true, secret: SECRET });
  });

  it('rejects a re-serialised body (whitespace changes the bytes)', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(BODY), null, 1));
    expect(verifyWebhook({ ...base, rawBody: reserialised })).toEqual({ ok: false, reason: 'bad_signature' });
  });

  it.each([
    ['missing signature', { signature: undefined }, 'missing_signature'],
    ['malformed signature', { signature: 'v1=abc' }, 'malformed_signature'],
    ['missing timestamp', { timestamp: undefined }, 'missing_timestamp'],
    ['non-numeric timestamp', { timestamp: '12a' }, 'missing_timestamp'],
    ['timestamp 301 s old', { nowSeconds: 1727384100 + 301 }, 'stale_timestamp'],
    ['timestamp 301 s ahead', { nowSeconds: 1727384100 - 301 }, 'stale_timestamp'],
    ['wrong secret', { secrets: ['another'] }, 'bad_signature'],
    ['no secret configured', { secrets: [] }, 'no_secret_configured'],
  ])('rejects %s', (_name, patch, reason) => {
    expect(verifyWebhook({ ...base, ...patch })).toEqual({ ok: false, reason });
  });

  it('accepts a timestamp exactly at the window edge', () => {
    expect(verifyWebhook({ ...base, nowSeconds: 1727384100 + 300 }).ok).toBe(true);
  });
});
