import { TextCursor } from './text-cursor';
import { LogEntry } from './text-log';

/** The log reads a replay needs (TextLog). */
export interface ReplaySource {
  range(sessionId: string, afterId: string, count: number): Promise<{ entries: LogEntry[]; read: number; lastId: string | null }>;
}

export interface ReplayOptions {
  pageSize: number;
  /** Resolves true once the client has room for more (its buffer under half the limit), false when it is gone. */
  whenWritable(): true | Promise<boolean>;
}

/** Start of a log, for a replay from its first entry. */
export const LOG_START = '0-0';

/**
 * Sends a cursor the log after its position, page by page, pacing on the client's
 * buffer, then releases what the live reader held meanwhile. A page shorter than
 * pageSize means the replay reached the end — unless held entries overflowed during
 * that page, in which case it reads on (they are in the log).
 */
export async function replayLog(cursor: TextCursor, source: ReplaySource, { pageSize, whenWritable }: ReplayOptions): Promise<void> {
  let after = cursor.position ?? LOG_START;
  for (;;) {
    const overflowsBefore = cursor.overflows;
    const page = await source.range(cursor.sessionId, after, pageSize);
    for (const item of page.entries) {
      const writable = whenWritable();
      if (writable !== true && !(await writable)) return;
      if (cursor.cancelled || !cursor.deliver(item)) return;
    }
    if (cursor.cancelled) return;
    if (page.lastId !== null) after = page.lastId;
    if (page.read < pageSize && cursor.overflows === overflowsBefore) {
      cursor.finishReplay();
      return;
    }
  }
}
