import type { AudioStreamInfo, SegmentRef, SpooledPacket, StreamEnd } from './audio-spool.ports';
import type { CachedSegment } from './pcm-cache';

/**
 * The audio spool's in-memory state (stream → participant → open segments) and how the
 * packets waiting in it are cut into groups, one per (stream, participant, segment): a
 * group becomes one part row per flush. audio-spool.ts schedules the flushes.
 */

export interface UserState {
  userName: string | null;
  /** The latest timestamp spooled (what an erasure refuses the rest of the window from). */
  maxTs: number;
  /**
   * How far the participant's audio has got, for deciding that a segment is complete: the
   * latest timestamp, except that a packet more than MAX_AHEAD_MS ahead of it moves it only
   * once the next packet confirms the jump (advanceClock).
   */
  clockTs: number;
  /** A packet that jumped ahead of clockTs, waiting for the next one to confirm it. */
  jumpTs: number | null;
  /** Packets waiting for the next flush, in arrival order. */
  waiting: SpooledPacket[];
  /** segment start → the open segments this process writes to. */
  segments: Map<number, SegmentState>;
  /** Packets already spooled (their offset in the segment), per segment start: a packet Zoom sends twice is kept once. */
  seen: Map<number, SeenOffsets>;
}

/**
 * The millisecond offsets in one segment that already had a packet: one bit each. Checked
 * for every audio packet, so a bitmap (1.25 KB for a 10 s segment) rather than a Set,
 * whose growing hash table allocated and rehashed as each segment filled.
 */
export class SeenOffsets {
  private readonly bits: Uint8Array;

  constructor(segmentMs: number) {
    this.bits = new Uint8Array(Math.ceil(segmentMs / 8));
  }

  /** Marks the offset (0 ≤ offset < segmentMs); false when it was marked already. */
  mark(offset: number): boolean {
    const byte = offset >>> 3;
    const bit = 1 << (offset & 7);
    if (this.bits[byte] & bit) return false;
    this.bits[byte] |= bit;
    return true;
  }
}

/** An open segment this process writes to; the PCM of its written parts is in the process's PcmCache (CachedSegment). */
export interface SegmentState extends CachedSegment {
  id: string | null;
  /** When last_part_at was last refreshed. */
  touchedAt: number;
  /**
   * A write under way refreshes last_part_at: no other write does, so two concurrent
   * writes never update the same segment row (they would queue behind each other).
   */
  touching: boolean;
  /** When this process last wrote a part of it. */
  writtenAt: number;
}

export interface StreamState {
  info: AudioStreamInfo;
  users: Map<string, UserState>;
  /** Packets appended and not yet written or discarded. */
  pending: number;
  ended: StreamEnd | null;
  /** Runs of this process holding the stream (handles opened and not ended): a later run may take it up before an earlier one has wound down. */
  handles?: number;
  /**
   * Participants erased while the stream ran (erasure by participant): user id → the last
   * segment window (start) whose audio is dropped. Their audio up to the erasure never
   * becomes a WAV; later windows are new capture.
   */
  erasedThrough?: Map<string, number>;
}

export interface Group {
  stream: StreamState;
  userId: string;
  segStart: number;
  packets: SpooledPacket[];
  segmentId: string | null;
  /** Written or discarded, and counted as such: never retried. */
  settled?: boolean;
  /** Writes of it alone that failed while the database took others (AudioSpool quarantines it after a few). */
  failures?: number;
}

export const segKey = (rtmsStreamId: string, userId: string, segStart: number) => `${rtmsStreamId}|${userId}|${segStart}`;

export const groupKey = (g: Group) => segKey(g.stream.info.rtmsStreamId, g.userId, g.segStart);

/** True when the group's window belongs to a participant erased while the stream ran. */
export const isErasedGroup = (g: Group) => {
  const through = g.stream.erasedThrough?.get(g.userId);
  return through !== undefined && g.segStart <= through;
};

/** How far (Zoom ms) past a segment's end a participant's audio must reach before the segment is written out. */
export const SEGMENT_GRACE_MS = 2000;

/**
 * How far ahead of a participant's audio (clockTs) one packet may move it on its own. It is
 * the grace a segment waits past its end, so a stray timestamp can make no segment
 * complete that the real audio has not reached the end of.
 */
export const MAX_AHEAD_MS = SEGMENT_GRACE_MS;

/**
 * Moves the participant's clock with a packet. A packet within MAX_AHEAD_MS of it (or
 * behind it) moves it as usual. One further ahead — a bad timestamp, a day ahead, or the
 * first packet after a long mute — moves it only when the next packet lands within
 * MAX_AHEAD_MS of it (a real jump: the audio goes on from there); until then it is spooled
 * like any packet but completes nothing. Before, a single packet stamped a day ahead made
 * every later segment "complete" as it opened, so the open segment was handed over, written
 * and reopened at every flush. (A participant's first packet waits for its second too.)
 */
export function advanceClock(u: Pick<UserState, 'clockTs' | 'jumpTs'>, ts: number): void {
  if (ts <= u.clockTs + MAX_AHEAD_MS) {
    if (ts > u.clockTs) u.clockTs = ts;
    u.jumpTs = null;
  } else if (u.jumpTs !== null && Math.abs(ts - u.jumpTs) <= MAX_AHEAD_MS) {
    u.clockTs = Math.max(ts, u.jumpTs);
    u.jumpTs = null;
  } else u.jumpTs = ts;
}

/** Start of the segment window (a multiple of the segment length on Zoom's clock) that holds `ts`. */
export const segmentStart = (ts: number, segmentMs: number) => Math.floor(ts / segmentMs) * segmentMs;

/** Takes the waiting packets of every stream, grouped by (stream, user, segment). */
export function cutWaiting(streams: Iterable<StreamState>): Group[] {
  const out: Group[] = [];
  for (const s of streams) {
    for (const [userId, u] of s.users) {
      if (u.waiting.length === 0) continue;
      const bySeg = new Map<number, SpooledPacket[]>();
      for (const p of u.waiting) {
        const seg = segmentStart(p.ts, s.info.segmentMs);
        const g = bySeg.get(seg);
        if (g) g.push(p);
        else bySeg.set(seg, [p]);
      }
      u.waiting = [];
      for (const [segStart, packets] of bySeg) {
        packets.sort((a, b) => a.ts - b.ts);
        out.push({ stream: s, userId, segStart, packets, segmentId: u.segments.get(segStart)?.id ?? null });
      }
    }
  }
  return out;
}

/** The segments the groups need and have no id for yet (one ref per segment). */
export function segmentsToEnsure(groups: Group[]): SegmentRef[] {
  const missing = new Map<string, SegmentRef>();
  for (const g of groups) {
    if (g.segmentId) continue;
    const key = groupKey(g);
    const u = g.stream.users.get(g.userId);
    missing.set(key, {
      key,
      sessionId: g.stream.info.sessionId,
      rtmsStreamId: g.stream.info.rtmsStreamId,
      userId: g.userId,
      userName: u?.userName ?? null,
      segmentStartMs: g.segStart,
      segmentMs: g.stream.info.segmentMs,
      sampleRate: g.stream.info.sampleRate,
      channels: g.stream.info.channels,
    });
  }
  return [...missing.values()];
}

/** The in-memory record of a group's segment (created on first write). */
export function segmentOf(g: Group): SegmentState {
  const u = g.stream.users.get(g.userId)!;
  let seg = u.segments.get(g.segStart);
  if (!seg) {
    seg = { id: null, touchedAt: 0, touching: false, writtenAt: 0, parts: new Map(), bytes: 0 };
    u.segments.set(g.segStart, seg);
  }
  return seg;
}
