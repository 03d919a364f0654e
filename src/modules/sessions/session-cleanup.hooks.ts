import { Injectable } from '@nestjs/common';
import { EntityManager } from 'typeorm';

/** What a cleanup hook deleted from storage (reported in the deletion log and the session's media.deleted). */
export interface StoredObjectsDeleted {
  objects: number;
  bytes: number;
}

/** A hook may say what stored objects it deleted (a bare number: objects, bytes unknown). */
export type SessionCleanupHook = (sessionId: string) => Promise<void | number | StoredObjectsDeleted>;

/**
 * Counts, per table, the rows of another module that a session's deletion cascades to.
 * Runs in the deleting transaction, just before the session row goes, so the counts are
 * the rows that transaction deletes.
 */
export type SessionRowCounter = (sessionId: string, em: EntityManager) => Promise<Record<string, number>>;

/**
 * Deletes, in the deleting transaction (the session row locked), rows of another module
 * that point at the session without a foreign key (the app-event outbox), and returns
 * how many per table. Runs before the deletion is logged, so what the log announces
 * (media.deleted) is recorded after it and goes out.
 */
export type SessionRowDeleter = (sessionId: string, em: EntityManager) => Promise<Record<string, number>>;

/**
 * Work other modules must do before a session's rows go (e.g. media-ingest deletes the
 * stored media), and the counts of their rows the deletion takes with it. Modules that
 * depend on sessions register here, so sessions never depends on them. A hook that
 * throws stops the delete (it can be retried).
 */
@Injectable()
export class SessionCleanupHooks {
  private readonly hooks: SessionCleanupHook[] = [];
  private readonly rowCounters: SessionRowCounter[] = [];
  private readonly rowDeleters: SessionRowDeleter[] = [];

  register(hook: SessionCleanupHook): void {
    this.hooks.push(hook);
  }

  registerRowCounter(counter: SessionRowCounter): void {
    this.rowCounters.push(counter);
  }

  registerRowDeleter(deleter: SessionRowDeleter): void {
    this.rowDeleters.push(deleter);
  }

  async run(sessionId: string): Promise<StoredObjectsDeleted> {
    const total: StoredObjectsDeleted = { objects: 0, bytes: 0 };
    for (const hook of this.hooks) {
      const r = await hook(sessionId);
      if (typeof r === 'number') total.objects += r;
      else if (r) {
        total.objects += r.objects;
        total.bytes += r.bytes;
      }
    }
    return total;
  }

  async countRows(sessionId: string, em: EntityManager): Promise<Record<string, number>> {
    return sumRows(this.rowCounters, sessionId, em);
  }

  async deleteRows(sessionId: string, em: EntityManager): Promise<Record<string, number>> {
    return sumRows(this.rowDeleters, sessionId, em);
  }
}

async function sumRows(fns: Array<(sessionId: string, em: EntityManager) => Promise<Record<string, number>>>, sessionId: string, em: EntityManager): Promise<Record<string, number>> {
  const rows: Record<string, number> = {};
  for (const fn of fns) {
    for (const [table, n] of Object.entries(await fn(sessionId, em))) rows[table] = (rows[table] ?? 0) + n;
  }
  return rows;
}
