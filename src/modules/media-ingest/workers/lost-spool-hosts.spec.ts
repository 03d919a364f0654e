import { lostAudioPayload, lostHosts } from './lost-spool-hosts';

describe('lost spool hosts', () => {
  it('a host is lost when its last heartbeat is older than the grace, or unknown', () => {
    const now = 1_000_000;
    expect(lostHosts(['a', 'b', 'c'], [String(now - 5000), String(now - 500), null], now, 1000)).toEqual(['a', 'c']);
  });

  it('the timeline payload names the time range, streams and participants', () => {
    const seg = (user_id: string, start: number) => ({ session_id: 's', rtms_stream_id: 'r', user_id, user_name: `u${user_id}`, segment_start_ms: String(start), segment_ms: 10_000, spool_host: 'h1' });
    expect(lostAudioPayload([seg('1', 1_700_000_000_000), seg('2', 1_700_000_010_000), seg('1', 1_700_000_010_000)])).toEqual({
      reason: 'spool_host_lost',
      items: { audio_segment: 3 },
      spool_hosts: ['h1'],
      rtms_stream_ids: ['r'],
      participants: [
        { user_id: '1', user_name: 'u1' },
        { user_id: '2', user_name: 'u2' },
      ],
      from: new Date(1_700_000_000_000).toISOString(),
      to: new Date(1_700_000_020_000).toISOString(),
    });
  });
});
