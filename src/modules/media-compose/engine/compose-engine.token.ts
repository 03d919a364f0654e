/** The ComposeEngine (compose-types.ts) the compose job calls: the ffmpeg engine in production, a fake in tests. */
export const COMPOSE_ENGINE = Symbol('COMPOSE_ENGINE');
