import type { StoredPart, StoredSegment } from '../repositories/audio-segments.repository';
import { missingAudio, missingPartsPayload } from './missing-audio';

/** A part of `packets` 20 ms L16 packets at `rate` Hz, mono. */
const part = (packets: number, rate = 16000): StoredPart => ({
  segment_id: 'seg',
  first_ts: '0',
  last_ts: String((packets - 1) * 20),
  packet_ts: Array.from({ length: packets }, (_, i) => String(i * 20)),
  packet_len: Array.from({ length: packets }, () => (rate / 50) * 2),
  pcm: null,
  spool_file: 'audio-1-0.pcm',
  file_offset: '0',
});

describe('missing spooled audio', () => {
  it('counts the parts, their packets and their duration at the rate the WAV was written with', () => {
    expect(missingAudio([part(10), part(5)], 16000, 1)).toEqual({ parts: 2, packets: 15, ms: 300 });
    expect(missingAudio([part(50, 48000)], 48000, 1)).toEqual({ parts: 1, packets: 50, ms: 1000 });
  });

  it("the timeline payload has spool_host_lost's shape, plus the segment, its WAV and what it lacks", () => {
    const seg = { id: 'seg', session_id: 's', rtms_stream_id: 'r', user_id: '7', user_name: 'Ann', segment_start_ms: '1700000000000', segment_ms: 10_000 } as StoredSegment;
    expect(missingPartsPayload(seg, 'h1', { parts: 1, packets: 50, ms: 1000 }, 'art')).toEqual({
      reason: 'spool_part_missing',
      items: { audio_segment: 1 },
      spool_hosts: ['h1'],
      rtms_stream_ids: ['r'],
      participants: [{ user_id: '7', user_name: 'Ann' }],
      from: new Date(1_700_000_000_000).toISOString(),
      to: new Date(1_700_000_010_000).toISOString(),
      segment_id: 'seg',
      artifact_id: 'art',
      missing_parts: 1,
      missing_packets: 50,
      missing_ms: 1000,
    });
  });
});
