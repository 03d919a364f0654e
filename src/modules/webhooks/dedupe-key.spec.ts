import { canonicalJson, zoomEventDedupeKey } from './dedupe-key';

const started = (urls: string, ts = 1727384100000) => ({
  event: 'meeting.rtms_started',
  event_ts: ts,
  payload: { meeting_uuid: 'u==', rtms_stream_id: 's1', server_urls: urls, operator_id: 'op' },
});

describe('zoom event dedupe keys', () => {
  it('is the same for the same event regardless of key order', () => {
    const a = started('wss://a.zoom.us');
    const b = { payload: { operator_id: 'op', server_urls: 'wss://a.zoom.us', rtms_stream_id: 's1', meeting_uuid: 'u==' }, event_ts: 1727384100000, event: 'meeting.rtms_started' };
    expect(zoomEventDedupeKey('meeting.rtms_started', a)).toBe(zoomEventDedupeKey('meeting.rtms_started', b));
  });

  it('differs for a failover (new server_urls) and for a new event_ts', () => {
    const base = zoomEventDedupeKey('meeting.rtms_started', started('wss://a.zoom.us'));
    expect(zoomEventDedupeKey('meeting.rtms_started', started('wss://b.zoom.us'))).not.toBe(base);
    expect(zoomEventDedupeKey('meeting.rtms_started', started('wss://a.zoom.us', 1727384100001))).not.toBe(base);
  });

  it('fits the column and has a stable prefix', () => {
    const key = zoomEventDedupeKey('x', {});
    expect(key).toMatch(/^zoom:[0-9a-f]{64}$/);
  });

  it('canonicalises nested arrays and objects', () => {
    expect(canonicalJson({ b: [2, { d: 1, c: 0 }], a: null })).toBe('{"a":null,"b":[2,{"c":0,"d":1}]}');
  });
});
