import type { MediaItem } from '../../../jobs/job-payloads';
import type { H264Segment } from './h264-segmenter';

/**
 * A finished H.264 segment as one media item of the batch → media-frames → saver path:
 * `data` its bytes, `timestamp` its first frame's Zoom timestamp, `segment` the rest.
 * msgType 15 (video) or 16 (screen share) tells the saver its kind.
 */
export function segmentItem(msgType: number, seg: H264Segment): MediaItem {
  return {
    msgType,
    userId: seg.userId,
    userName: seg.userName,
    timestamp: seg.firstTs,
    data: seg.bytes.toString('base64'),
    receivedAt: seg.receivedAt,
    segment: {
      frames: seg.frameTs.length,
      firstTs: seg.firstTs,
      lastTs: seg.lastTs,
      frameTs: seg.frameTs,
      durationMs: seg.durationMs,
      ...(seg.width && seg.height ? { width: seg.width, height: seg.height } : {}),
    },
  };
}
