import { spsPictureSize } from './h264-sps';
import { detachNal, isVcl, NAL_IDR, NAL_PPS, NAL_SPS, NalUnit, nalType, splitNalUnits, startsAccessUnit, withStartCode } from '../../../common/media/h264-annex-b';

export interface H264SegmenterOptions {
  /** A segment is cut at the first keyframe once it is this long (Zoom ms). */
  segmentMs: number;
  /** A segment never grows past this many bytes. */
  maxBytes: number;
  /** 1000 / the negotiated fps: the last frame's duration, and the spacing of frames that shared one message. */
  frameIntervalMs: number;
  /** Participants tracked at most (a hostile stream must not grow the map without bound). */
  maxTracks?: number;
}

/** One finished segment: Annex-B access units in order, the first being SPS + PPS + IDR. */
export interface H264Segment {
  userId: number;
  userName?: string;
  bytes: Buffer;
  firstTs: number;
  lastTs: number;
  /** Each access unit's Zoom timestamp minus firstTs, in order (the first is 0). */
  frameTs: number[];
  durationMs: number;
  /** When the first access unit arrived (wall clock), for latency metrics. */
  receivedAt: number;
  /** Picture size its SPS declares (absent if it could not be read). */
  width?: number;
  height?: number;
}

/** Why a track was waiting for a keyframe. */
export type KeyframeWaitCause = 'connect' | 'resume' | 'byte_cap';

/** A wait for a keyframe that dropped something (waits that dropped nothing are not reported). */
export interface KeyframeWait {
  userId: number;
  userName?: string;
  cause: KeyframeWaitCause;
  /** Access units dropped while waiting (they cannot be decoded without the keyframe before them). */
  droppedUnits: number;
  /** Zoom time from the first dropped unit to the keyframe (or to the end of the wait plus one frame). */
  waitedMs: number;
  /** How the wait ended: at a keyframe, or the track was flushed first (speaker change, idle, stream end, reconnect). */
  ended: 'keyframe' | 'flushed';
}

export interface H264SegmenterSink {
  segment(s: H264Segment): void;
  keyframeWait(w: KeyframeWait): void;
}

/** Why open segments are flushed (the reason is not stored; it names the call site in tests and logs). */
export type FlushReason = 'speaker_change' | 'idle' | 'stream_end' | 'reconnect';

export interface SegmenterStats {
  accessUnits: number;
  segments: number;
  droppedUnits: number;
  /** Messages with no NAL unit at all. */
  malformed: number;
  /** Access units of participants past maxTracks. */
  untracked: number;
  /** NAL units without a picture dropped while waiting for one (past the carry bound: older parameter sets, SEI …). */
  carriedDropped: number;
  /** Keyframes dropped because, with their parameter sets, they alone exceed maxBytes. */
  oversized: number;
}

/**
 * Of the NAL units a message without a picture leaves for the next one, besides the latest
 * SPS and PPS at most this many others (SEI, AUD …) and bytes are kept, the latest. A stream
 * of messages that never hold a picture used to pile up without limit (a hostile or broken
 * peer: 500 MB of SEI in front of one keyframe), each message copying the pile again.
 */
const MAX_CARRIED_OTHERS = 8;
const MAX_CARRIED_BYTES = 64 * 1024;

interface AccessUnit {
  nals: NalUnit[];
  ts: number;
  receivedAt: number;
  idr: boolean;
  hasSps: boolean;
  hasPps: boolean;
}

interface OpenSegment {
  /** The access units' bytes as received (start codes included), in order. */
  parts: Buffer[];
  bytes: number;
  firstTs: number;
  lastTs: number;
  frameTs: number[];
  receivedAt: number;
  size: { width: number; height: number } | null;
}

interface Waiting {
  cause: KeyframeWaitCause;
  dropped: number;
  firstDroppedTs: number | null;
  lastDroppedTs: number | null;
}

interface Track {
  userId: number;
  userName?: string;
  open: OpenSegment | null;
  waiting: Waiting | null;
  /** The last SPS / PPS seen: put in front of a keyframe that arrives without them. */
  sps: Buffer | null;
  pps: Buffer | null;
  /** The picture size of `sps`. */
  size: { width: number; height: number } | null;
  /** Parameter sets of a message that held no picture, for the next message's access unit. */
  carried: NalUnit[];
  lastReceivedAt: number;
}

const DEFAULT_MAX_TRACKS = 1000;

/**
 * Cuts one stream's H.264 video of one kind (camera or screen share) into segments per
 * participant, each playable on its own: it starts with SPS + PPS + IDR and holds whole
 * access units in order. Pure and synchronous: bytes in, segments and keyframe waits out
 * through the sink.
 *
 * - Bytes are kept as received (start codes included); only parameter sets put in front
 *   of a keyframe that came without them are written anew.
 * - One RTMS message is normally one access unit. A message holding several is split at
 *   the access-unit boundaries of the NAL units; a message holding only parameter sets or
 *   SEI is joined to the next.
 * - A participant's track starts (and after any flush restarts) waiting for a keyframe:
 *   what comes before it cannot be decoded, so it is dropped and counted, and the wait is
 *   reported once when it ends (if it dropped anything).
 * - A segment is cut at a keyframe once it is ≥ segmentMs long, or at a keyframe that
 *   would take it past maxBytes. If the byte cap comes before any keyframe, the segment is
 *   closed and the track waits for the next keyframe.
 * - Active-speaker video carries one participant at a time: a frame of another
 *   participant flushes the open segments of the others.
 */
export class H264Segmenter {
  private readonly tracks = new Map<number, Track>();
  readonly stats: SegmenterStats = { accessUnits: 0, segments: 0, droppedUnits: 0, malformed: 0, untracked: 0, carriedDropped: 0, oversized: 0 };

  constructor(
    private readonly opts: H264SegmenterOptions,
    private readonly sink: H264SegmenterSink,
  ) {}

  /** One media message's payload (Annex-B). */
  push(userId: number, userName: string | undefined, timestamp: number, receivedAt: number, payload: Buffer): void {
    const track = this.track(userId, userName, receivedAt);
    if (!track) {
      this.stats.untracked += 1;
      return;
    }
    for (const other of this.tracks.values()) if (other !== track && (other.open || other.waiting?.dropped)) this.flushTrack(other);
    const nals = splitNalUnits(payload);
    if (nals.length === 0) {
      this.stats.malformed += 1;
      return;
    }
    let au: AccessUnit | null = null;
    let k = 0;
    const begin = (): AccessUnit => {
      const carried = track.carried.splice(0);
      const has = (type: number) => carried.some((n) => nalType(n.data) === type);
      return { nals: carried, ts: timestamp + k++ * this.opts.frameIntervalMs, receivedAt, idr: false, hasSps: has(NAL_SPS), hasPps: has(NAL_PPS) };
    };
    const hasPicture = (a: AccessUnit) => a.nals.some((n) => isVcl(nalType(n.data)));
    for (const nal of nals) {
      const type = nalType(nal.data);
      if (au && hasPicture(au) && startsAccessUnit(nal.data)) {
        this.commit(track, au);
        au = null;
      }
      au ??= begin();
      au.nals.push(nal);
      if (type === NAL_IDR) au.idr = true;
      if (type === NAL_SPS) {
        au.hasSps = true;
        // Copies (only when they change): a view would keep this whole message alive.
        if (!track.sps?.equals(nal.data)) {
          track.size = spsPictureSize(nal.data);
          track.sps = Buffer.from(nal.data);
        }
      }
      if (type === NAL_PPS) {
        au.hasPps = true;
        if (!track.pps?.equals(nal.data)) track.pps = Buffer.from(nal.data);
      }
    }
    if (au && hasPicture(au)) this.commit(track, au);
    else if (au) track.carried = this.bounded(au.nals);
  }

  /** The units to carry to the next message: the latest SPS, the latest PPS, and the latest few others, in their order. */
  private bounded(nals: NalUnit[]): NalUnit[] {
    let sps = false;
    let pps = false;
    let others = 0;
    let bytes = 0;
    const keep: NalUnit[] = [];
    for (let i = nals.length - 1; i >= 0; i--) {
      const n = nals[i];
      const type = nalType(n.data);
      let kept = false;
      if (type === NAL_SPS) {
        kept = !sps;
        sps = true;
      } else if (type === NAL_PPS) {
        kept = !pps;
        pps = true;
      } else if (others < MAX_CARRIED_OTHERS && bytes + n.raw.length <= MAX_CARRIED_BYTES) {
        kept = true;
        others++;
        bytes += n.raw.length;
      }
      if (kept) keep.push(detachNal(n));
      else this.stats.carriedDropped += 1;
    }
    return keep.reverse();
  }

  /** Closes every open segment and ends every wait; the tracks then wait for a keyframe again (`reconnect`: cause 'connect'). */
  flushAll(reason: FlushReason): void {
    for (const t of this.tracks.values()) this.flushTrack(t, reason === 'reconnect' ? 'connect' : 'resume');
  }

  /** Flushes the tracks that received nothing for idleMs (wall clock): a camera turned off must not hold its segment open. */
  flushIdle(now: number, idleMs: number): void {
    for (const t of this.tracks.values()) if ((t.open || t.waiting?.dropped) && now - t.lastReceivedAt >= idleMs) this.flushTrack(t);
  }

  /** Whether any segment is open (tests, metrics). */
  get openSegments(): number {
    let n = 0;
    for (const t of this.tracks.values()) if (t.open) n++;
    return n;
  }

  private track(userId: number, userName: string | undefined, receivedAt: number): Track | null {
    let t = this.tracks.get(userId);
    if (!t) {
      if (this.tracks.size >= (this.opts.maxTracks ?? DEFAULT_MAX_TRACKS)) return null;
      t = { userId, open: null, waiting: newWait('connect'), sps: null, pps: null, size: null, carried: [], lastReceivedAt: receivedAt };
      this.tracks.set(userId, t);
    }
    if (userName !== undefined) t.userName = userName;
    t.lastReceivedAt = receivedAt;
    return t;
  }

  private commit(track: Track, au: AccessUnit): void {
    this.stats.accessUnits += 1;
    const startable = au.idr && (au.hasSps || track.sps !== null) && (au.hasPps || track.pps !== null);
    if (track.waiting) {
      if (!startable || !this.open(track, au)) return this.drop(track, au);
      this.endWait(track, au.ts, 'keyframe');
      return;
    }
    const seg = track.open!;
    const bytes = Buffer.concat(au.nals.map((n) => n.raw));
    const size = bytes.length;
    if (startable && (au.ts - seg.firstTs >= this.opts.segmentMs || seg.bytes + size > this.opts.maxBytes)) {
      this.close(track);
      if (this.open(track, au)) return;
      track.waiting = newWait('byte_cap');
      return this.drop(track, au);
    }
    if (seg.bytes + size > this.opts.maxBytes) {
      this.close(track);
      track.waiting = newWait('byte_cap');
      return this.drop(track, au);
    }
    seg.parts.push(bytes);
    seg.bytes += size;
    seg.frameTs.push(au.ts - seg.firstTs);
    seg.lastTs = Math.max(seg.lastTs, au.ts);
  }

  /**
   * Opens a segment at a keyframe; false (nothing opened) when the keyframe, with the
   * parameter sets put in front of it, is itself larger than a segment may be.
   */
  private open(track: Track, au: AccessUnit): boolean {
    // A keyframe without its parameter sets gets the last ones seen: every segment decodes alone.
    const parts = [...(au.hasSps ? [] : [withStartCode(track.sps!)]), ...(au.hasPps ? [] : [withStartCode(track.pps!)]), ...au.nals.map((n) => n.raw)];
    const bytes = parts.reduce((n, p) => n + p.length, 0);
    if (bytes > this.opts.maxBytes) {
      this.stats.oversized += 1;
      return false;
    }
    track.open = { parts, bytes, firstTs: au.ts, lastTs: au.ts, frameTs: [0], receivedAt: au.receivedAt, size: track.size };
    return true;
  }

  private close(track: Track): void {
    const seg = track.open;
    track.open = null;
    if (!seg) return;
    this.stats.segments += 1;
    this.sink.segment({
      userId: track.userId,
      userName: track.userName,
      bytes: Buffer.concat(seg.parts),
      firstTs: seg.firstTs,
      lastTs: seg.lastTs,
      frameTs: seg.frameTs,
      durationMs: Math.round(seg.lastTs - seg.firstTs + this.opts.frameIntervalMs),
      receivedAt: seg.receivedAt,
      ...(seg.size ?? {}),
    });
  }

  private drop(track: Track, au: AccessUnit): void {
    const w = track.waiting!;
    w.dropped += 1;
    w.firstDroppedTs ??= au.ts;
    w.lastDroppedTs = au.ts;
    this.stats.droppedUnits += 1;
  }

  private endWait(track: Track, at: number | null, ended: KeyframeWait['ended']): void {
    const w = track.waiting;
    track.waiting = null;
    if (!w || w.dropped === 0) return;
    const end = at ?? w.lastDroppedTs! + this.opts.frameIntervalMs;
    this.sink.keyframeWait({ userId: track.userId, userName: track.userName, cause: w.cause, droppedUnits: w.dropped, waitedMs: Math.max(0, Math.round(end - w.firstDroppedTs!)), ended });
  }

  /** Closes the track's segment (or ends its wait) and makes it wait for a keyframe again. */
  private flushTrack(track: Track, cause: KeyframeWaitCause = 'resume'): void {
    track.carried = [];
    this.close(track);
    this.endWait(track, null, 'flushed');
    track.waiting = newWait(cause);
  }
}

function newWait(cause: KeyframeWaitCause): Waiting {
  return { cause, dropped: 0, firstDroppedTs: null, lastDroppedTs: null };
}
