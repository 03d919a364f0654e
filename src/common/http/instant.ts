import { ValidateBy, ValidationOptions } from 'class-validator';

// RFC 3339 date-time, or a bare date (midnight). Narrower than ISO 8601 on purpose: week
// dates, ordinal dates and the basic format pass class-validator's IsISO8601 but not
// Postgres' timestamptz parser, and a value Postgres refuses became a 500.
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?([Zz]|[+-](\d{2}):(\d{2}))?)?$/;

function daysIn(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * True for a real point in time Postgres reads as it is: a well-formed date-time whose
 * calendar fields exist (no 31 February, no hour 24, no year 0) and whose offset is at
 * most ±14:00. `requireOffset` also demands the time and its offset (a cursor position).
 */
export function isInstant(value: unknown, requireOffset = false): value is string {
  if (typeof value !== 'string') return false;
  const m = INSTANT.exec(value);
  if (!m) return false;
  const [, y, mo, d, h, mi, s, offset, oh, om] = m;
  const year = Number(y);
  const month = Number(mo);
  if (year < 1 || month < 1 || month > 12) return false;
  if (Number(d) < 1 || Number(d) > daysIn(year, month)) return false;
  if (h !== undefined && (Number(h) > 23 || Number(mi) > 59 || (s !== undefined && Number(s) > 59))) return false;
  if (oh !== undefined && (Number(oh) * 60 + Number(om) > 14 * 60 || Number(om) > 59)) return false;
  return !requireOffset || offset !== undefined;
}

/** Query/body field holding an instant (see isInstant); the message names the field. */
export function IsInstant(options?: ValidationOptions): PropertyDecorator {
  return ValidateBy(
    {
      name: 'isInstant',
      validator: {
        validate: (value: unknown) => isInstant(value),
        defaultMessage: (args) => `${args?.property ?? 'value'} must be an existing date or date-time (RFC 3339, e.g. 2026-12-01T00:00:00Z)`,
      },
    },
    options,
  );
}
