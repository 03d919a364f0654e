/** rtms-protocol.md §6 test vectors, checked against the simulator's signing code and an inline reference. */
import { createHash, createHmac } from 'crypto';
import { pkceS256, rtmsHandshakeSignature, urlValidationToken, webhookSignature } from './index';

describe('rtms-protocol.md §6 vectors', () => {
  it('RTMS handshake signature', () => {
    const expected = 'b652bb12b91a9fe177dd15655215e0f9d71cd96595aa3a06bf678b9dd9e91c8d';
    expect(rtmsHandshakeSignature('test_client_id', 'test_client_secret', '4444AAAiAAAAAiAiAiiAii==', '03db704592624398931a588dd78200cb')).toBe(expected);
    expect(createHmac('sha256', 'test_client_secret').update('test_client_id,4444AAAiAAAAAiAiAiiAii==,03db704592624398931a588dd78200cb').digest('hex')).toBe(expected);
  });

  it('URL validation', () => {
    expect(urlValidationToken('test_webhook_secret_token', 'qgg8vlvZRS6UYooatFL8Aw')).toBe('86705707a60af11445b569e0e5835093a9ea1db20fbbc21a87829905515dd0c1');
  });

  it('webhook signature', () => {
    const body =
      '{"event":"meeting.rtms_started","payload":{"meeting_uuid":"4444AAAiAAAAAiAiAiiAii==","operator_id":"30R7kT7bTIKSNUFEuH_Qlg","rtms_stream_id":"03db704592624398931a588dd78200cb","server_urls":"wss://127.0.0.1:8443"},"event_ts":1727384100000}';
    expect(webhookSignature('test_webhook_secret_token', 1727384100, body)).toBe('v0=8c822c54f7396063704837bc21034e38565d724965b06f167a17f7b13222fec8');
    // the simulator serialises envelopes in the same key order as the vector
    const env = JSON.stringify({ event: 'meeting.rtms_started', payload: JSON.parse(body).payload, event_ts: 1727384100000 });
    expect(env).toBe(body);
  });

  it('PKCE S256 (RFC 7636 App. B)', () => {
    const v = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    expect(pkceS256(v)).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    expect(createHash('sha256').update(v).digest('base64url')).toBe('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
  });
});
