import request from 'supertest';
import { EventSource, SessionCleanupHooks, SessionEventsService } from '../src/modules/sessions';
import { createSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY } from './utils/test-app';
import { waitFor } from './utils/wait-for';

/**
 * DELETE /sessions/:id while another DELETE of the same session runs. The storage cleanup
 * (the hooks other modules register) is made slow on purpose, with a hook that waits on a
 * promise this file releases: the second request then arrives while the first holds the
 * session row, which is when two deletes used to share a lock and deadlock on its upgrade
 * (Postgres 40P01, answered 500).
 */
describe('DELETE /sessions/:id, twice at once', () => {
  const ctx = useE2eContext({ hub: { api: true } });
  const http = () => request(ctx.hub.app.getHttpServer());

  /** Sessions whose cleanup waits for `release`, and how often a cleanup of them started. */
  const slow = new Map<string, { entered: number; release: () => void; released: Promise<void> }>();

  beforeAll(() => {
    ctx.hub.app.get(SessionCleanupHooks).register(async (sessionId) => {
      const gate = slow.get(sessionId);
      if (!gate) return;
      gate.entered++;
      await gate.released;
    });
  });

  function slowCleanup(sessionId: string) {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const gate = { entered: 0, release, released };
    slow.set(sessionId, gate);
    return gate;
  }

  /** Backends of this database waiting on a lock on the sessions table (the second DELETE, queued). */
  async function waitersOnSessions(): Promise<number> {
    const [row] = await query<{ n: number }>(
      ctx.hub.app,
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE '%FROM "sessions"%'`,
    );
    return row.n;
  }

  it('one answers 204, the other 404 once the first is done; never a 500; media rows can still be inserted meanwhile', async () => {
    const { id } = await createSession(ctx.hub, { meetingId: '84512345678' });
    const gate = slowCleanup(id);
    const del = () => http().delete(`/api/v1/sessions/${id}`).set('x-api-key', API_KEY).then((r) => r);
    const first = del();
    await waitFor(() => gate.entered >= 1, { what: 'the first delete to be cleaning the storage' });
    const second = del();
    // The second either queues on the row (fixed) or joins the cleanup (a shared lock): wait for either.
    await waitFor(async () => gate.entered >= 2 || (await waitersOnSessions()) > 0, { what: 'the second delete to reach the session row' });
    // A row that only references the session (its foreign key takes KEY SHARE) is not held up by the delete's lock.
    const inserted = ctx.hub.app.get(SessionEventsService).recordEvent(id, { source: EventSource.Api, eventType: 'test.during_delete', payload: {} });
    await expect(Promise.race([inserted.then(() => 'inserted'), new Promise((r) => setTimeout(() => r('blocked'), 3000))])).resolves.toBe('inserted');
    gate.release();
    const results = await Promise.all([first, second]);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([204, 404]);
    expect(results.find((r) => r.status === 404)!.body).toMatchObject({ error: 'session_not_found' });
    expect(await query(ctx.hub.app, `SELECT id FROM sessions WHERE id = $1`, [id])).toEqual([]);
    // Storage was cleaned once: the second never got past the row.
    expect(gate.entered).toBe(1);
    const log = await query<{ n: number }>(ctx.hub.app, `SELECT count(*)::int AS n FROM deletion_log WHERE session_id = $1`, [id]);
    expect(log[0].n).toBe(1);
  });
});
