import type { RetentionCategory, SessionRetentionPolicy } from '../../sessions';

/** RETENTION_*_DAYS as configured (0 = keep forever). */
export interface RetentionDefaults {
  mediaDays: number;
  transcriptDays: number;
  eventsDays: number;
}

const DAY_MS = 86_400_000;

/**
 * How many days a session keeps a category: its capture policy's own number when it set
 * one, else the configuration as it is now (so tightening the config reaches old
 * sessions). 0 = forever. Fractions allowed (tests use seconds).
 */
export function effectiveDays(policy: Partial<SessionRetentionPolicy> | null | undefined, defaults: RetentionDefaults, category: RetentionCategory): number {
  const own = category === 'media' ? policy?.media_days : category === 'transcript' ? policy?.transcript_days : policy?.events_days;
  if (typeof own === 'number' && Number.isFinite(own) && own >= 0) return own;
  return category === 'media' ? defaults.mediaDays : category === 'transcript' ? defaults.transcriptDays : defaults.eventsDays;
}

/** When data kept `days` from `clock` expires; null = never (no clock: the session streams; or 0 = forever). */
export function expiryOf(clock: Date | null, days: number): Date | null {
  if (clock === null || !(days > 0)) return null;
  // Rounded to the millisecond: 6 s as days (6 / 86400) times a day is not exactly 6000 in floating point.
  return new Date(clock.getTime() + Math.round(days * DAY_MS));
}

export function isExpired(clock: Date | null, days: number, now: Date): boolean {
  const at = expiryOf(clock, days);
  return at !== null && at.getTime() <= now.getTime();
}

/** The session row itself goes only once every category has expired (none of them kept forever). */
export function sessionRowExpires(policy: Partial<SessionRetentionPolicy> | null | undefined, defaults: RetentionDefaults, clock: Date | null, now: Date): boolean {
  return (['media', 'transcript', 'events'] as const).every((c) => isExpired(clock, effectiveDays(policy, defaults, c), now));
}
