/** The ComposeEngine (compose-types.ts) the compose job calls: the ffmpeg engine in production, a fake in tests. */
export const COMPOSE_ENGINE = Symbol('COMPOSE_ENGINE');

/** The ParticipantAudioEncoder (ffmpeg-compose-engine.ts) for per-participant files: the same ffmpeg engine in production. */
export const PARTICIPANT_AUDIO_ENCODER = Symbol('PARTICIPANT_AUDIO_ENCODER');
