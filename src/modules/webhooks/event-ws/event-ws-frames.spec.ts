import { eventWsUrl, MAX_FRAME_BYTES, parseEventWsFrame, reconnectDelayMs } from './event-ws-frames';

describe('parseEventWsFrame', () => {
  const event = { event: 'meeting.rtms_started', event_ts: 1, payload: { rtms_stream_id: 'abc' } };

  it('unwraps an event whose content is a JSON string (the wire form)', () => {
    expect(parseEventWsFrame(JSON.stringify({ module: 'message', content: JSON.stringify(event) }))).toEqual({ kind: 'event', event });
  });

  it('also accepts content that is already an object', () => {
    expect(parseEventWsFrame(JSON.stringify({ module: 'message', content: event }))).toEqual({ kind: 'event', event });
  });

  it('recognises heartbeat answers and other modules', () => {
    expect(parseEventWsFrame('{"module":"heartbeat","success":true}')).toEqual({ kind: 'heartbeat_ack' });
    expect(parseEventWsFrame('{"module":"build_connection","success":true}')).toEqual({ kind: 'other', module: 'build_connection' });
  });

  it.each([
    ['not JSON', '{"module":', 'frame is not JSON'],
    ['an array', '[1,2]', 'frame is not a JSON object'],
    ['no module', '{"content":"{}"}', 'frame has no module'],
    ['content not JSON', '{"module":"message","content":"{oops"}', 'message content is not JSON'],
    ['content a number', '{"module":"message","content":"42"}', 'message content is not a JSON object'],
    ['content without event', '{"module":"message","content":"{\\"payload\\":{}}"}', 'message content has no event name'],
    ['too large', `{"module":"message","content":"${'x'.repeat(MAX_FRAME_BYTES)}"}`, 'too large'],
  ])('%s is malformed (never throws)', (_n, text, reason) => {
    const f = parseEventWsFrame(text);
    expect(f.kind).toBe('malformed');
    expect(f.kind === 'malformed' && f.reason).toContain(reason);
  });

  it('a malformed reason never echoes frame content', () => {
    const f = parseEventWsFrame('{"module":"message","content":"secret-looking-thing"}');
    expect(JSON.stringify(f)).not.toContain('secret-looking-thing');
  });
});

describe('reconnectDelayMs', () => {
  it('grows exponentially from min, is capped at max, and is jittered within [ceiling/2, ceiling]', () => {
    expect(reconnectDelayMs(0, 1000, 30000, () => 0)).toBe(500);
    expect(reconnectDelayMs(0, 1000, 30000, () => 1)).toBe(1000);
    expect(reconnectDelayMs(3, 1000, 30000, () => 1)).toBe(8000);
    expect(reconnectDelayMs(10, 1000, 30000, () => 1)).toBe(30000);
    expect(reconnectDelayMs(1000, 1000, 30000, () => 0)).toBe(15000);
    const seen = new Set(Array.from({ length: 50 }, () => reconnectDelayMs(2, 1000, 30000)));
    expect(seen.size).toBeGreaterThan(1);
    for (const d of seen) expect(d >= 2000 && d <= 4000).toBe(true);
  });
});

describe('eventWsUrl', () => {
  it('appends subscriptionId and access_token, and gives a copy with the token masked', () => {
    const { url, safe } = eventWsUrl('wss://ws.zoom.us/ws', 'sub 1', 'SeCrEt/en+=');
    const u = new URL(url);
    expect(u.searchParams.get('subscriptionId')).toBe('sub 1');
    expect(u.searchParams.get('access_token')).toBe('SeCrEt/en+=');
    expect(safe).not.toContain('SeCrEt');
    expect(new URL(safe).searchParams.get('access_token')).toBe('***');
  });
});
