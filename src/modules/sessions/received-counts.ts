/**
 * What a session's streams received (sessions.received_counts, GET /sessions/:id): flat
 * names → numbers, e.g. `audio_messages`, `audio_bytes`, `events`, `participants_seen`.
 * The stream workers count them (media-ingest stream-counters.ts) and add deltas.
 */
export type ReceivedCounts = Record<string, number>;

/** Distinct counts a stream reports whole: merged by maximum, never summed. */
export const MAX_MERGED_RECEIVED_COUNTS: readonly string[] = ['participants_seen'];
