import type { MediaItem } from '../../../jobs/job-payloads';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import { frameFormatOf, LiveBinaryMedia, LiveMediaTap, LiveTextEntry } from '../../live';
import type { CapturePolicy, MediaTypeName } from '../../sessions';
import { CaptureAdmission } from '../capture/capture-admission';
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

  constructor(
    private readonly ids: StreamIds,
    private readonly policy: CapturePolicy,
    private readonly filter: MediaItemFilter,
    private readonly batcher: MediaBatcher,
    private readonly audio: AudioSink,
    private readonly live: StreamLive,
  ) {
    this.admission = new CaptureAdmission(policy);
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
    if (type === 'audio') this.audio.append(String(item.userId), item.userName ?? null, { ts: item.timestamp, pcm: bytes ?? Buffer.from(item.data, 'base64'), receivedAt: item.receivedAt });
    else this.batcher.add(this.ids, MEDIA_JOB[item.msgType], item);
    return true;
  }

  /** The stream's job is ending: its batched items are enqueued now. */
  close(): Promise<void> {
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
