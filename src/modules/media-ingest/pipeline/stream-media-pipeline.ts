import type { MediaItem } from '../../../jobs/job-payloads';
import { RtmsMessageType } from '../../../zoom/rtms-enums';
import type { CapturePolicy } from '../../sessions';
import { MEDIA_JOB, MediaBatcher, StreamIds } from './media-batcher';
import type { MediaItemFilter } from './media-filter';

/** Where a stream's audio packets go (its handle on the process's audio spool). */
export interface AudioSink {
  append(userId: string, userName: string | null, packet: { ts: number; pcm: Buffer; receivedAt: number }): boolean;
}

export interface PipelineStats {
  kept: number;
  filtered: number;
}

/**
 * One stream's media path: the capture policy first (dropped media never costs a Redis
 * round trip), then audio, decoded, to the audio spool and everything else to the
 * process's media batcher.
 */
export class StreamMediaPipeline {
  readonly stats: PipelineStats = { kept: 0, filtered: 0 };

  constructor(
    private readonly ids: StreamIds,
    private readonly policy: CapturePolicy,
    private readonly filter: MediaItemFilter,
    private readonly batcher: MediaBatcher,
    private readonly audio: AudioSink,
  ) {}

  /**
   * False when the capture policy dropped the item (or no saver takes its type).
   * `bytes`: the payload already decoded by the parser (audio is spooled decoded).
   */
  add(item: MediaItem, bytes?: Buffer): boolean {
    const isAudio = item.msgType === RtmsMessageType.MediaDataAudio;
    const job = isAudio ? undefined : MEDIA_JOB[item.msgType];
    if (!isAudio && !job) return false;
    if (!this.filter.shouldKeep(item, this.policy)) {
      this.stats.filtered += 1;
      return false;
    }
    this.stats.kept += 1;
    if (job) this.batcher.add(this.ids, job, item);
    else this.audio.append(String(item.userId), item.userName ?? null, { ts: item.timestamp, pcm: bytes ?? Buffer.from(item.data, 'base64'), receivedAt: item.receivedAt });
    return true;
  }

  /** The stream's job is ending: its batched items are enqueued now. */
  close(): Promise<void> {
    return this.batcher.flushStream(this.ids.rtmsStreamId);
  }
}
