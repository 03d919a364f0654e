import { FrameFormat, LiveBinaryMedia } from '../live-protocol';

/** The RTMS media_params codec number of H.264 (rtms-protocol.md: 5 JPG, 6 PNG, 7 H264). */
export const RTMS_CODEC_H264 = 7;

/**
 * A frame's payload format byte. Audio is always L16 (the hub asks Zoom for PCM); for
 * video and deskshare the bytes say JPEG or PNG, and anything else is H.264 only when
 * that is the codec the stream asked for.
 */
export function frameFormatOf(media: LiveBinaryMedia, payload: Buffer, requestedCodec: number | undefined): FrameFormat {
  if (media === 'audio') return FrameFormat.L16;
  if (payload.length >= 2 && payload[0] === 0xff && payload[1] === 0xd8) return FrameFormat.Jpeg;
  if (payload.length >= 4 && payload[0] === 0x89 && payload[1] === 0x50 && payload[2] === 0x4e && payload[3] === 0x47) return FrameFormat.Png;
  return requestedCodec === RTMS_CODEC_H264 ? FrameFormat.H264 : FrameFormat.Unknown;
}
