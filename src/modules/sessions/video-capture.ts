import { SessionErrorCode } from '../../common/errors/error-codes';
import type { FrameSamplingPolicy, VideoFormat, VideoResolution } from './capture-policy';
import { SessionError } from './sessions.errors';

/**
 * How video and screen share are asked of Zoom (rtms-protocol.md §2, media params):
 * codec 5 JPG, 6 PNG, 7 H264; resolution 1 SD … 4 QHD; fps ≤ 30.
 *
 * Zoom picks the codec by frame rate: video is JPG/PNG at ≤ 5 fps and H.264 above;
 * screen share JPG/PNG at ≤ 1 fps (the SDK lets JPG/PNG go to 5) and H.264 above. So:
 * - `h264` needs fps 6–30 for video and 2–30 for screen share (at a lower rate Zoom's
 *   documented rule would hand us JPG, which the H.264 segmenter cannot take);
 * - `jpeg`/`png` allow fps 1–5 (as before); without `fps`, the rate follows `interval_ms`.
 */
export const STILL_MAX_FPS = 5;
export const H264_MIN_FPS: Record<VideoKind, number> = { video: 6, deskshare: 2 };
export const H264_MAX_FPS = 30;
/** fps asked for H.264 when the policy gives none: the RTMS samples' 25 for video; 10 is plenty for a screen. */
export const H264_DEFAULT_FPS: Record<VideoKind, number> = { video: 25, deskshare: 10 };

export type VideoKind = 'video' | 'deskshare';

export const RTMS_VIDEO_CODEC: Record<VideoFormat, number> = { jpeg: 5, png: 6, h264: 7 };
export const RTMS_RESOLUTION: Record<VideoResolution, number> = { sd: 1, hd: 2, fhd: 3, qhd: 4 };

export function videoFormatOf(rule: Pick<FrameSamplingPolicy, 'format'>): VideoFormat {
  return rule.format ?? 'jpeg';
}

export function isH264(rule: Pick<FrameSamplingPolicy, 'format'>): boolean {
  return videoFormatOf(rule) === 'h264';
}

/** A capture policy asked for a video format, frame rate and resolution Zoom does not offer together (400 invalid_capture_policy). */
export class InvalidCapturePolicyError extends SessionError {
  constructor(message: string) {
    super(SessionErrorCode.InvalidCapturePolicy, message);
  }
}

/**
 * Checks a video / deskshare rule (request merged over the defaults) and fills the H.264
 * frame rate when none was given. Throws InvalidCapturePolicyError on a combination the
 * protocol does not allow.
 */
export function resolveVideoCapture(kind: VideoKind, rule: FrameSamplingPolicy): FrameSamplingPolicy {
  const format = videoFormatOf(rule);
  if (format === 'h264') {
    const fps = rule.fps ?? H264_DEFAULT_FPS[kind];
    if (fps < H264_MIN_FPS[kind] || fps > H264_MAX_FPS) {
      throw new InvalidCapturePolicyError(
        `${kind}.format "h264" needs ${kind}.fps from ${H264_MIN_FPS[kind]} to ${H264_MAX_FPS} (Zoom sends JPG/PNG at ${H264_MIN_FPS[kind] - 1} fps or less); got ${fps}`,
      );
    }
    return { ...rule, format, fps };
  }
  if (rule.fps !== undefined && (rule.fps < 1 || rule.fps > STILL_MAX_FPS)) {
    throw new InvalidCapturePolicyError(`${kind}.format "${format}" allows ${kind}.fps from 1 to ${STILL_MAX_FPS} (Zoom sends H.264 above); got ${rule.fps}`);
  }
  return rule;
}

/** JPG/PNG without an explicit fps: the rate follows the sampling interval (at most 5). */
function stillFps(intervalMs: number): number {
  if (!intervalMs || intervalMs <= 0) return STILL_MAX_FPS;
  return Math.max(1, Math.min(STILL_MAX_FPS, Math.ceil(1000 / intervalMs)));
}

/** codec, resolution and fps of a video / deskshare media_params entry. */
export function videoMediaParams(rule: FrameSamplingPolicy): { codec: number; resolution: number; fps: number } {
  const format = videoFormatOf(rule);
  const fps = format === 'h264' ? Math.min(H264_MAX_FPS, rule.fps ?? H264_DEFAULT_FPS.video) : Math.min(STILL_MAX_FPS, rule.fps ?? stillFps(rule.interval_ms));
  return { codec: RTMS_VIDEO_CODEC[format], resolution: RTMS_RESOLUTION[rule.resolution ?? 'hd'], fps };
}
