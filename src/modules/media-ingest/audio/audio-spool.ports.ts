import type { NewSegment } from '../repositories/audio-segments.repository';

/**
 * The audio spool's ports: what a stream hands it (AudioStreamInfo, SpooledPacket), where
 * it makes parts durable (AudioPartStore, SpooledAudioStore in production), and what it
 * reports (AudioSpoolHooks). audio-spool.ts holds the spool itself.
 */

export interface AudioStreamInfo {
  sessionId: string;
  rtmsStreamId: string;
  segmentMs: number;
  /** The negotiated format, for the WAV header. */
  sampleRate: number;
  channels: number;
}

export interface SpooledPacket {
  ts: number;
  pcm: Buffer;
  receivedAt: number;
}

/** A segment the spool needs the id of (created if it does not exist yet). */
export type SegmentRef = NewSegment;

export interface PartRow {
  segmentId: string;
  packets: SpooledPacket[];
  /**
   * The packets' PCM back to back, when the caller has joined them already (the spool has:
   * the same buffer is kept for the segment's WAV, so the bytes are copied once per flush).
   */
  pcm?: Buffer;
  /** Also mark the segment as still receiving (last_part_at), so the idle sweeper leaves it alone. */
  touch: boolean;
}

export interface AppendResult {
  /** Segments that no longer exist (session deleted, stream purged): their parts were not written. */
  vanished: Set<string>;
  /** Segments already sealed (their WAV is final and their parts pruned): the parts are kept but miss the WAV. */
  sealed: Set<string>;
}

/** Where parts are made durable (SpooledAudioStore in production). */
export interface AudioPartStore {
  /** Ids of the given segments, creating the missing ones. Segments of a deleted session are left out. */
  ensureSegments(refs: SegmentRef[]): Promise<Map<string, string>>;
  /** Makes the parts durable all at once; reopens written segments that got new parts. */
  appendParts(rows: PartRow[]): Promise<AppendResult>;
}

/**
 * The parts of a segment this process wrote, kept in memory so writing its WAV reads no
 * file: each part's PCM in one buffer, its packets back to back (as in the spool file).
 * One buffer per part, not one per packet: a segment is kept for its whole length, and
 * per-packet objects living that long would be copied by every young-generation GC.
 */
export type WrittenParts = Map<string, Buffer>;

/** Key of a part in WrittenParts: its first and last packet timestamps. */
export const partKey = (firstTs: number, lastTs: number) => `${firstTs}|${lastTs}`;

/**
 * Why spooled audio was given up. `bad_timestamp`: not a media timestamp (the parser
 * refuses those; the spool checks again). `write_refused`: a batch the database kept
 * refusing on its own while it took the others (quarantined, AudioSpool).
 */
export type DiscardReason = 'session_deleted' | 'revoked' | 'spool_full' | 'shutdown' | 'participant_cap' | 'erased' | 'bad_timestamp' | 'write_refused';

export interface AudioSpoolHooks {
  /**
   * Segments complete enough to be written out as WAV, with the parts this process wrote
   * of each, and how long their writing may be spread over.
   */
  segmentsDue(segments: Array<{ id: string; parts: WrittenParts; spreadMs: number }>): Promise<void>;
  /** Packets now durable. */
  saved(packets: SpooledPacket[], now: number): void;
  /** Packets that will never be stored, and why. */
  discarded(reason: DiscardReason, packets: number): void;
  /** Packets that arrived for a segment already sealed: not stored. */
  late(packets: number): void;
  flushFailed(err: unknown): void;
  /** How long one write took and how many packets it carried. */
  flushed(ms: number, packets: number): void;
}

export interface AudioSpoolOptions {
  flushMs: number;
  /** Flush at once when this much PCM is waiting. */
  flushBytes: number;
  /** Beyond this much PCM waiting (the database is down), new packets are dropped and counted. */
  maxBufferedBytes: number;
  /** last_part_at is refreshed at most this often per segment. */
  touchEveryMs: number;
  /** A segment not written to for this long is dropped from memory (the sweep writes it from the file). */
  cacheIdleMs: number;
  /**
   * PCM of open segments kept in memory for their WAVs, for the whole process; past it the
   * oldest parts are evicted and read back from the spool file. Unlimited when absent.
   */
  cacheMaxBytes?: number;
}

export type StreamEnd = 'finalize' | 'keep' | 'discard';
