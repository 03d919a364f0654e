import type { StoredPart, StoredSegment } from '../repositories/audio-segments.repository';

/** What a segment's WAV was written without: parts whose bytes are nowhere. */
export interface MissingAudio {
  parts: number;
  packets: number;
  ms: number;
}

/** The parts' packets and duration at `rate` (L16: 2 bytes a sample). */
export function missingAudio(parts: StoredPart[], rate: number, channels: number): MissingAudio {
  const bytes = parts.reduce((n, p) => n + p.packet_len.reduce((m, l) => m + l, 0), 0);
  return { parts: parts.length, packets: parts.reduce((n, p) => n + p.packet_len.length, 0), ms: Math.round((bytes * 1000) / (2 * channels * rate)) };
}

/** A segment written without some of its parts, as its session timeline's `media.lost` payload (the shape of spool_host_lost's). */
export function missingPartsPayload(seg: StoredSegment, spoolHost: string, missing: MissingAudio, artifactId: string | null): Record<string, unknown> {
  const start = Number(seg.segment_start_ms);
  return {
    reason: 'spool_part_missing',
    items: { audio_segment: 1 },
    spool_hosts: [spoolHost],
    rtms_stream_ids: [seg.rtms_stream_id],
    participants: [{ user_id: seg.user_id, user_name: seg.user_name }],
    from: new Date(start).toISOString(),
    to: new Date(start + seg.segment_ms).toISOString(),
    segment_id: seg.id,
    artifact_id: artifactId,
    missing_parts: missing.parts,
    missing_packets: missing.packets,
    missing_ms: missing.ms,
  };
}
