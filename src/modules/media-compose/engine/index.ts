export * from './compose-types';
export { DEFAULT_ENCODER_SETTINGS, resolveVideoPreset, VIDEO_PRESET_CHOICES, X264_PRESETS, type EncoderSettings, type VideoPresetChoice, type X264Preset } from './compose-args';
export { ComposeInputError, FfmpegComposeEngine, type FfmpegComposeEngineOptions, type ParticipantAudioEncoder, type ParticipantAudioInput, type ParticipantAudioResult } from './ffmpeg-compose-engine';
export { probeFfmpeg, probeMedia, type FfmpegProbe, type MediaProbe } from './ffmpeg-probe';
export { DEFAULT_FFMPEG_PATHS, FfmpegError, FfmpegNotFoundError, type FfmpegPaths } from './ffmpeg-runner';
