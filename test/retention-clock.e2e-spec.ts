import { EventSource, SessionRetentionService, SessionsService, SessionStatus } from '../src/modules/sessions';
import { insertSession } from './factories/session.factory';
import { query } from './utils/db';
import { useE2eContext } from './utils/e2e-context';

/**
 * The retention clock as SessionsService.transition stores it (docs/retention.md): a
 * session that streamed, failed, and was asked to start again keeps the failed run's clock
 * until the new run streams. Zoom may accept the start and never stream, and nothing times
 * rtms_start_requested out: with no clock the earlier run's media was kept for ever.
 */
describe('retention clock of a restarted session (real Postgres)', () => {
  const ctx = useE2eContext({ hub: { api: true } });

  it('keeps the ended run’s clock while a restart has not streamed, so its media still expires; stops once the new run streams', async () => {
    // Retention of one second: the sweep's work list shows whether the clock runs.
    const id = await insertSession(ctx.hub, { meetingUuid: `clock-${Date.now()}==`, status: 'created', capturePolicy: { retention: { media_days: 1 / 86400 } } });
    const sessions = ctx.hub.app.get(SessionsService);
    const retention = ctx.hub.app.get(SessionRetentionService);
    const move = (to: SessionStatus) => sessions.transition(id, to, { source: EventSource.Api });
    const clock = async () => (await query<{ retention_from: Date | null }>(ctx.hub.app, `SELECT retention_from FROM sessions WHERE id = $1`, [id]))[0].retention_from;
    const due = async () => (await retention.findDue('media', 0, 10_000)).some((d) => d.id === id);

    await move(SessionStatus.RtmsStartRequested);
    await move(SessionStatus.Streaming);
    expect(await clock()).toBeNull();
    const failed = (await move(SessionStatus.Failed)).session;
    expect(await clock()).toEqual(failed.endedAt);

    // POST /rtms/start on the failed session, accepted by Zoom: ended_at cleared, the clock kept.
    const restarted = (await move(SessionStatus.RtmsStartRequested)).session;
    expect(restarted.endedAt).toBeNull();
    expect(await clock()).toEqual(failed.endedAt);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await due()).toBe(true);

    // The new run streams: its clock stops until it ends.
    await move(SessionStatus.Streaming);
    expect(await clock()).toBeNull();
    expect(await due()).toBe(false);
  });
});
