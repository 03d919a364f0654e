/**
 * Per-stream state is kept for at most this many distinct participants (frame counters,
 * audio spool users). Zoom meetings hold up to 1,000 participants; ids beyond the cap
 * come from a hostile or broken peer: their media is dropped and counted instead of
 * growing the maps without bound.
 */
export const MAX_TRACKED_PARTICIPANTS = 1000;
