import { effectiveDays, expiryOf, isExpired, sessionRowExpires } from './retention-policy';

const defaults = { mediaDays: 30, transcriptDays: 90, eventsDays: 365 };
const DAY = 86_400_000;
const ended = new Date('2026-01-01T00:00:00Z');
const at = (ms: number) => new Date(ended.getTime() + ms);

describe('retention policy', () => {
  describe('effectiveDays', () => {
    it('follows the configuration where the session set nothing (absent or null)', () => {
      expect(effectiveDays(undefined, defaults, 'media')).toBe(30);
      expect(effectiveDays(null, defaults, 'transcript')).toBe(90);
      expect(effectiveDays({ media_days: null, transcript_days: null, events_days: null, zero: false }, defaults, 'events')).toBe(365);
    });

    it("takes the session's own number over the configuration, per category", () => {
      const policy = { media_days: 1, transcript_days: null, events_days: 2.5 };
      expect(effectiveDays(policy, defaults, 'media')).toBe(1);
      expect(effectiveDays(policy, defaults, 'transcript')).toBe(90);
      expect(effectiveDays(policy, defaults, 'events')).toBe(2.5);
    });

    it('keeps a session override of 0 (forever) even when the configuration expires the category', () => {
      expect(effectiveDays({ media_days: 0 }, defaults, 'media')).toBe(0);
    });

    it('keeps a configured 0 (forever) where the session set nothing', () => {
      expect(effectiveDays({}, { ...defaults, transcriptDays: 0 }, 'transcript')).toBe(0);
    });
  });

  describe('expiry', () => {
    it('is the clock plus the days, fractions included (seconds in tests)', () => {
      expect(expiryOf(ended, 30)).toEqual(at(30 * DAY));
      expect(expiryOf(ended, 2 / 86400)).toEqual(at(2000));
      expect(expiryOf(ended, 0.5)).toEqual(at(DAY / 2));
    });

    it('never comes for 0 days (forever) or without a clock (a session still streaming)', () => {
      expect(expiryOf(ended, 0)).toBeNull();
      expect(expiryOf(null, 30)).toBeNull();
      expect(isExpired(ended, 0, at(100 * 365 * DAY))).toBe(false);
      expect(isExpired(null, 1 / 86400, at(100 * 365 * DAY))).toBe(false);
    });

    it('is reached exactly when the age passes the policy, not before', () => {
      const days = 2 / 86400; // 2 s
      expect(isExpired(ended, days, at(1999))).toBe(false);
      expect(isExpired(ended, days, at(2000))).toBe(true);
      expect(isExpired(ended, 30, at(30 * DAY - 1))).toBe(false);
      expect(isExpired(ended, 30, at(30 * DAY))).toBe(true);
    });
  });

  describe('sessionRowExpires', () => {
    it('only once all three categories have expired', () => {
      const policy = { media_days: 1, transcript_days: 2, events_days: 3 };
      expect(sessionRowExpires(policy, defaults, ended, at(2.5 * DAY))).toBe(false);
      expect(sessionRowExpires(policy, defaults, ended, at(3 * DAY))).toBe(true);
    });

    it('never while any category is kept forever (session or configuration)', () => {
      expect(sessionRowExpires({ media_days: 1, transcript_days: 1, events_days: 0 }, defaults, ended, at(1000 * DAY))).toBe(false);
      expect(sessionRowExpires({ media_days: 1, transcript_days: 1 }, { ...defaults, eventsDays: 0 }, ended, at(1000 * DAY))).toBe(false);
    });

    it('never for a session without a clock (streaming or paused)', () => {
      expect(sessionRowExpires({ media_days: 1, transcript_days: 1, events_days: 1 }, defaults, null, at(1000 * DAY))).toBe(false);
    });
  });
});
