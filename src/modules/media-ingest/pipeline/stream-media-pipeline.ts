import type { MediaItem } from '../../../jobs/job-payloads';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { frameFormatOf, LiveBinaryMedia, LiveMediaTap, LiveTextEntry } from '../../live';
import type { CapturePolicy, MediaTypeName, VideoKind } from '../../sessions';
import { isH264, videoMediaParams } from '../../sessions';
import { CaptureAdmission } from '../capture/capture-admission';
import { H264Segmenter, KeyframeWait } from '../video/h264-segmenter';
import { segmentItem } from '../video/segment-item';
import { chatEntry, transcriptEntry } from './live-text-entries';
import { MEDIA_JOB, MediaBatcher, StreamIds } from './media-batcher';
import type { MediaItemFilter } from './media-filter';

/** Where a stream's audio packets go (its handle on the process's audio spool). */
export interface AudioSink {
  append(userId: string, userName: string | null, packet: { ts: number; pcm: Buffer; receivedAt: number }): boolean;
}

/** A stream's live side: its media tap, and the process's text log. */
export interface StreamLive {
  tap: Pick<LiveMediaTap, 'wants' | 'publish'>;
  text: { append(entry: LiveTextEntry): void };
  /** The video/deskshare codec the stream asked Zoom for (media_params), to name a payload's format. */
  codecs: Partial<Record<LiveBinaryMedia, number>>;
}

/** H.264 capture settings (config) and where a stream's keyframe waits are reported (its session's timeline). */
export interface StreamVideoCapture {
  segmentMs: number;
  maxBytes: number;
  keyframeWait(kind: VideoKind, wait: KeyframeWait): void;
}

/** How often open H.264 segments are checked for idleness (a camera switched off). */
const IDLE_CHECK_MS = 1000;

export interface PipelineStats {
  kept: number;
  filtered: number;
  /** Items of a type whose policy says `store: false` (published live, not stored). */
  notStored: number;
}

const MEDIA_TYPE_OF: Record<number, MediaTypeName> = {
  [RtmsMessageType.MediaDataAudio]: 'audio',
  [RtmsMessageType.MediaDataVideo]: 'video',
  [RtmsMessageType.MediaDataShare]: 'deskshare',
  [RtmsMessageType.MediaDataTranscript]: 'transcript',
  [RtmsMessageType.MediaDataChat]: 'chat',
};

/**
 * One stream's media path. Live first: transcript and chat go to the session's text log
 * always (clients resume from it), audio/video/deskshare to the live tap only while a
 * client wants them — both after the policy's type and participant rules, never its
 * frame sampling. Then storage, unless the type's `store` is false: the capture policy's
 * filter (dropped media never costs a Redis round trip), then audio, decoded, to the
 * audio spool and everything else to the process's media batcher.
 */
export class StreamMediaPipeline {
  readonly stats: PipelineStats = { kept: 0, filtered: 0, notStored: 0 };
  private readonly admission: CaptureAdmission;
  /** Per stored H.264 kind: its segmenter (video/h264-segmenter.ts). */
  private readonly segmenters = new Map<VideoKind, H264Segmenter>();
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly ids: StreamIds,
    private readonly policy: CapturePolicy,
    private readonly filter: MediaItemFilter,
    private readonly batcher: MediaBatcher,
    private readonly audio: AudioSink,
    private readonly live: StreamLive,
    video?: StreamVideoCapture,
  ) {
    this.admission = new CaptureAdmission(policy);
    for (const kind of ['video', 'deskshare'] as const) {
      const rule = policy[kind];
      if (!video || !isH264(rule) || rule.store === false) continue;
      const msgType = kind === 'video' ? RtmsMessageType.MediaDataVideo : RtmsMessageType.MediaDataShare;
      const frameIntervalMs = 1000 / videoMediaParams(rule).fps;
      this.segmenters.set(
        kind,
        new H264Segmenter(
          { segmentMs: video.segmentMs, maxBytes: video.maxBytes, frameIntervalMs },
          {
            // Each finished segment is one item of the batch → media-frames → saver path (retries, outages and loss accounting included).
            segment: (seg) => this.batcher.add(this.ids, MEDIA_JOB[msgType], segmentItem(msgType, seg)),
            keyframeWait: (w) => video.keyframeWait(kind, w),
          },
        ),
      );
    }
    if (this.segmenters.size > 0) {
      // A segment whose participant went quiet (camera off, left) is written out rather than held until the stream ends.
      const idleMs = video!.segmentMs + IDLE_CHECK_MS;
      this.idleTimer = setInterval(() => {
        for (const seg of this.segmenters.values()) seg.flushIdle(Date.now(), idleMs);
      }, IDLE_CHECK_MS);
      this.idleTimer.unref();
    }
  }

  /**
   * Media sockets carrying `types` are being (re)connected: what the old connection sent
   * is segmented to its end, and each participant's H.264 waits for a keyframe again (the
   * new connection's first frames may refer to pictures this process never saw).
   */
  mediaReconnecting(types: readonly MediaTypeName[]): void {
    for (const [kind, seg] of this.segmenters) if (types.includes(kind)) seg.flushAll('reconnect');
  }

  /**
   * False when the item is not stored (the capture policy dropped it, its type is not
   * stored, or no saver takes it). `bytes`: the payload already decoded by the parser.
   */
  add(item: MediaItem, bytes?: Buffer): boolean {
    const type = MEDIA_TYPE_OF[item.msgType];
    if (!type) return false;
    this.publishLive(type, item, bytes);
    if (this.policy[type].store === false) {
      this.stats.notStored += 1;
      return false;
    }
    if (!this.filter.shouldKeep(item, this.policy)) {
      this.stats.filtered += 1;
      return false;
    }
    this.stats.kept += 1;
    const segmenter = type === 'video' || type === 'deskshare' ? this.segmenters.get(type) : undefined;
    if (segmenter) segmenter.push(item.userId, item.userName, item.timestamp, item.receivedAt, bytes ?? Buffer.from(item.data, 'base64'));
    else if (type === 'audio') this.audio.append(String(item.userId), item.userName ?? null, { ts: item.timestamp, pcm: bytes ?? Buffer.from(item.data, 'base64'), receivedAt: item.receivedAt });
    else this.batcher.add(this.ids, MEDIA_JOB[item.msgType], item);
    return true;
  }

  /**
   * The stream's job is ending (stop, hand-over, lost lease, shutdown): open H.264
   * segments are written out, then its batched items are enqueued now.
   */
  close(): Promise<void> {
    if (this.idleTimer) clearInterval(this.idleTimer);
    this.idleTimer = null;
    for (const seg of this.segmenters.values()) seg.flushAll('stream_end');
    return this.batcher.flushStream(this.ids.rtmsStreamId);
  }

  private publishLive(type: MediaTypeName, item: MediaItem, bytes: Buffer | undefined): void {
    if (type === 'transcript' || type === 'chat') {
      if (this.admission.refusal(type, item.userId)) return;
      this.live.text.append(type === 'transcript' ? transcriptEntry(this.ids.sessionId, item) : chatEntry(this.ids.sessionId, item));
      return;
    }
    // The hot path when nobody listens: this one field read, nothing allocated.
    if (!this.live.tap.wants(type)) return;
    if (this.admission.refusal(type, item.userId)) return;
    const payload = bytes ?? Buffer.from(item.data, 'base64');
    this.live.tap.publish(type, item.userId, item.timestamp, payload, frameFormatOf(type, payload, this.live.codecs[type]));
  }
}
