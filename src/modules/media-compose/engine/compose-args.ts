/** x264 speed presets, fastest first: slower = smaller file for the same quality, more CPU. */
export const X264_PRESETS = ['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium'] as const;
export type X264Preset = (typeof X264_PRESETS)[number];

/** What COMPOSE_VIDEO_PRESET accepts: 'auto' (the default) or a preset. */
export const VIDEO_PRESET_CHOICES = ['auto', ...X264_PRESETS] as const;
export type VideoPresetChoice = (typeof VIDEO_PRESET_CHOICES)[number];

/**
 * 'auto' uses veryfast up to this output pixel rate (640×360 at 30 fps) and ultrafast
 * above it: x264 is most of the CPU a composition takes, and bench:compose measured
 * veryfast at 640×360 25 fps at ~6.5 % of the meeting's duration on one core, but ~20 % at
 * 1280×720 (ultrafast there: ~9 %, for files about 3× larger) — the target is < 10 %.
 */
export const AUTO_VERYFAST_MAX_PIXEL_RATE = 640 * 360 * 30;

export function resolveVideoPreset(choice: VideoPresetChoice, width: number, height: number, fps: number): X264Preset {
  if (choice !== 'auto') return choice;
  return width * height * fps <= AUTO_VERYFAST_MAX_PIXEL_RATE ? 'veryfast' : 'ultrafast';
}

export interface EncoderSettings {
  videoPreset: VideoPresetChoice;
  /** x264 constant rate factor (0–51, lower = better; 23 is x264's default). */
  videoCrf: number;
  audioBitrateKbps: number;
  /** AAC is encoded at this rate (48 kHz: what every player expects of an MP4). */
  audioSampleRate: number;
}

export const DEFAULT_ENCODER_SETTINGS: EncoderSettings = { videoPreset: 'auto', videoCrf: 23, audioBitrateKbps: 64, audioSampleRate: 48000 };

export interface ComposeArgsInput {
  width: number;
  height: number;
  fps: number;
  /** Output frames: the window's duration at `fps`, rounded. */
  frames: number;
  /** Whole output frame intervals between the video feed's first picture (its time 0) and the window's start. */
  prerollFrames: number;
  /** How long after its last picture the window still runs (s): the last picture is held that long. */
  holdSeconds: number;
  /** Sample rate of the raw mono s16le audio on pipe:4. */
  pcmSampleRate: number;
  outFile: string;
  encoder: EncoderSettings;
}

/** Common first arguments: no banner, no stdin, no progress lines, CPU use printed at exit. */
export const FFMPEG_BASE_ARGS = ['-hide_banner', '-nostdin', '-nostats', '-benchmark', '-y'];

/**
 * The video filter: every picture scaled to fit the output and padded (letterbox) to it,
 * then sampled onto the constant-rate output grid — each output frame shows the last
 * picture whose timestamp rounds to it or before (the fps filter), the grid anchored at the
 * window's start (`start_time`, a whole number of frames after the feed's time 0) — then
 * the last picture held to the window's end (tpad) and the count cut exactly (trim).
 */
export function videoFilter(a: Pick<ComposeArgsInput, 'width' | 'height' | 'fps' | 'frames' | 'prerollFrames' | 'holdSeconds'>): string {
  const w = a.width;
  const h = a.height;
  return [
    `scale=${w}:${h}:force_original_aspect_ratio=decrease`,
    `pad=${w}:${h}:(ow-iw)/2:(oh-ih)/2:color=black`,
    'setsar=1',
    `fps=fps=${a.fps}:start_time=${(a.prerollFrames / a.fps).toFixed(9)}`,
    'setpts=PTS-STARTPTS',
    `tpad=stop_mode=clone:stop_duration=${Math.max(1, Math.ceil(a.holdSeconds + 1))}`,
    // Cut here, not with -frames:v: ffmpeg closes every stream of a file once one reaches
    // its -frames limit, which would cut the audio short of the window's end.
    `trim=end_frame=${a.frames}`,
    'format=yuv420p',
  ].join(',');
}

/** Seconds: longer than any window (24 h), so ffmpeg never takes a video gap for a timestamp discontinuity. */
const DTS_DELTA_THRESHOLD_S = 100_000;

/** ffmpeg arguments of one composition: H.264 on pipe:3 (MPEG-TS), PCM on pipe:4, MP4 out. */
export function buildComposeArgs(a: ComposeArgsInput): string[] {
  return [
    ...FFMPEG_BASE_ARGS,
    // Pictures change size when the speaker changes: the scale filter adapts to each frame,
    // which keeps the fps filter's state (a filter graph rebuild would reset it).
    '-reinit_filter', '0',
    // A jump of more than dts_delta_threshold (10 s by default) in an MPEG-TS input is
    // taken for a broadcast clock reset and closed up: the pictures after a long video gap
    // would come early by the gap. Our feed's clock is Zoom's, strictly increasing and
    // never wrapping (a window is at most 24 h), so no jump inside a window is corrected.
    // (-copyts would too, but it also stops ffmpeg aligning both inputs' start times to 0.)
    '-dts_delta_threshold', String(DTS_DELTA_THRESHOLD_S),
    '-f', 'mpegts', '-i', 'pipe:3',
    '-f', 's16le', '-ar', String(a.pcmSampleRate), '-ac', '1', '-i', 'pipe:4',
    '-filter_complex', `[0:v:0]${videoFilter(a)}[v]`,
    '-map', '[v]', '-map', '1:a:0',
    '-c:v', 'libx264', '-preset', resolveVideoPreset(a.encoder.videoPreset, a.width, a.height, a.fps), '-crf', String(a.encoder.videoCrf), '-pix_fmt', 'yuv420p',
    // A keyframe every 2 s keeps seeking in a browser quick.
    '-g', String(Math.max(1, Math.round(a.fps * 2))),
    '-c:a', 'aac', '-b:a', `${a.encoder.audioBitrateKbps}k`, '-ar', String(a.encoder.audioSampleRate), '-ac', '1',
    // moov first: a browser can start playing before the whole file has arrived.
    '-movflags', '+faststart',
    '-f', 'mp4', a.outFile,
  ];
}

export interface AudioArgsInput {
  pcmSampleRate: number;
  bitrateKbps: number;
  outFile: string;
}

/** ffmpeg arguments of one participant's audio: PCM on pipe:3, Opus in Ogg out. */
export function buildParticipantAudioArgs(a: AudioArgsInput): string[] {
  return [
    ...FFMPEG_BASE_ARGS,
    '-f', 's16le', '-ar', String(a.pcmSampleRate), '-ac', '1', '-i', 'pipe:3',
    '-c:a', 'libopus', '-b:a', `${a.bitrateKbps}k`, '-application', 'voip',
    '-f', 'ogg', a.outFile,
  ];
}

/** ffmpeg arguments that print one black IDR picture (Annex-B) to stdout: the gap filler. */
export function buildBlackPictureArgs(width: number, height: number, fps: number): string[] {
  return [
    ...FFMPEG_BASE_ARGS,
    '-f', 'lavfi', '-i', `color=c=black:s=${width}x${height}:r=${fps}`,
    '-frames:v', '1',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p',
    '-f', 'h264', 'pipe:1',
  ];
}
