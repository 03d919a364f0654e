import { BadRequestException } from '@nestjs/common';
import { isRecord } from '../types/is-record';

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
    if (isRecord(parsed) && typeof parsed.c === 'string' && typeof parsed.i === 'string' && !Number.isNaN(Date.parse(parsed.c)) && /^[0-9a-f-]{36}$/i.test(parsed.i)) {
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
