import type { LostSegment, StoredPart, StoredSegment } from '../repositories/audio-segments.repository';

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

/**
 * Whole segments of one session, as a timeline payload's common part: how many, which
 * hosts, streams and participants, and the span they cover (`media.lost` spool_host_lost,
 * `media.recovered` spool_host_back).
 */
export function segmentsPayload(rows: LostSegment[]): Record<string, unknown> {
  const starts = rows.map((r) => Number(r.segment_start_ms));
  const ends = rows.map((r) => Number(r.segment_start_ms) + r.segment_ms);
  const participants = new Map<string, string | null>();
  for (const r of rows) participants.set(r.user_id, r.user_name);
  return {
    items: { audio_segment: rows.length },
    spool_hosts: [...new Set(rows.map((r) => r.spool_host))],
    rtms_stream_ids: [...new Set(rows.map((r) => r.rtms_stream_id))],
    participants: [...participants].map(([user_id, user_name]) => ({ user_id, user_name })),
    from: new Date(Math.min(...starts)).toISOString(),
    to: new Date(Math.max(...ends)).toISOString(),
  };
}
