import { BadRequestException } from '@nestjs/common';
import { isRecord } from '../types/is-record';
import { isInstant } from './instant';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Keyset cursor over (created_at, id): stable under inserts, no OFFSET scans. */
export interface Cursor {
  createdAt: string;
  id: string;
}

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify({ c: createdAt.toISOString(), i: id })).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): Cursor | undefined {
  if (!cursor) return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    // A cursor is client input: both fields go to Postgres casts, which must not fail (a 500).
    if (isRecord(parsed) && isInstant(parsed.c, true) && typeof parsed.i === 'string' && UUID.test(parsed.i)) {
      return { createdAt: parsed.c, id: parsed.i };
    }
  } catch {
    // fall through
  }
  throw new BadRequestException({ code: 'invalid_cursor', message: 'cursor is not a valid page cursor' });
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}
