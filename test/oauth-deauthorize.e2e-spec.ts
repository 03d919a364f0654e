import { randomUUID } from 'node:crypto';
import { UnrecoverableError } from 'bullmq';
import { jobIdFor } from '../src/jobs/job-ids';
import { JobName } from '../src/jobs/job-names';
import { JOB_OPTIONS } from '../src/jobs/job-options';
import { QueueName } from '../src/jobs/queue-names';
import { OAuthConnectionsService } from '../src/modules/oauth/oauth-connections.service';
import { insertOAuthConnection } from './factories/oauth-connection.factory';
import { query } from './utils/db';
import { TEST_ZOOM_APP, useE2eContext } from './utils/e2e-context';
import { API_KEY } from './utils/test-app';
import { waitFor, waitForJobState } from './utils/wait-for';

const ACCOUNT = 'deauth-acct';

interface StoredEvent {
  id: string;
  status: string;
  error: string | null;
}

/**
 * app_deauthorized → the oauth.deauthorize job (docs/api.md): Zoom requires the user's
 * tokens to be deleted, so the job retries for about an hour, a retry after a committed
 * deletion changes nothing, and a job that fails for good leaves its stored Zoom event
 * `failed` and counted, where an operator sees it.
 */
describe('app_deauthorized: the oauth.deauthorize job', () => {
  const ctx = useE2eContext({ simulator: {}, hub: { api: true, worker: { queues: [QueueName.ZoomEvents, QueueName.OAuth], explicit: true } } });

  const sql = <T = Record<string, unknown>>(text: string, params: unknown[] = []) => query<T>(ctx.hub.app, text, params);
  const deauthorizeQueue = () => ctx.hub.producer.queueFor(JobName.OAuthDeauthorize);
  const connections = () => ctx.hub.app.get(OAuthConnectionsService);

  /** A stored connection of a Zoom user unique to the test. */
  async function connectedUser(): Promise<{ zoomUserId: string; connectionId: string }> {
    const zoomUserId = `deauth-${randomUUID()}`;
    const connectionId = randomUUID();
    await insertOAuthConnection(ctx.hub, { id: connectionId, zoomUserId, zoomAccountId: ACCOUNT });
    return { zoomUserId, connectionId };
  }

  const storedEvent = async (zoomUserId: string): Promise<StoredEvent | undefined> =>
    (await sql<StoredEvent>(`SELECT id, status, error FROM session_events WHERE event_type = 'app_deauthorized' AND payload->'payload'->>'user_id' = $1`, [zoomUserId]))[0];

  const eventInStatus = (zoomUserId: string, status: string) =>
    waitFor(async () => {
      const event = await storedEvent(zoomUserId);
      return event?.status === status ? event : undefined;
    }, { what: `the app_deauthorized event of ${zoomUserId} to be ${status}` });

  const sendDeauthorized = (zoomUserId: string) =>
    ctx.sim.sendWebhook('app_deauthorized', { account_id: ACCOUNT, user_id: zoomUserId, client_id: TEST_ZOOM_APP.clientId, deauthorization_time: new Date().toISOString() });

  const jobIdOf = (event: StoredEvent, zoomUserId: string) => jobIdFor(JobName.OAuthDeauthorize, { eventId: event.id, zoomUserId })!;

  const connectionExists = async (id: string) => (await sql(`SELECT 1 FROM oauth_connections WHERE id = $1`, [id])).length > 0;

  it('retries for about an hour, and a retry after the deletion committed deletes and announces nothing twice', async () => {
    const { zoomUserId, connectionId } = await connectedUser();
    const service = connections();
    const deleteForUser = service.deleteConnectionsForZoomUser.bind(service);
    // The first attempt commits the deletion, then fails (say, Redis lost the job's lock).
    const deletion = jest.spyOn(service, 'deleteConnectionsForZoomUser').mockImplementationOnce(async (...args) => {
      await deleteForUser(...args);
      throw new Error('connection reset after the commit');
    });
    try {
      sendDeauthorized(zoomUserId);
      const event = await eventInStatus(zoomUserId, 'processed');
      const job = await waitForJobState(deauthorizeQueue(), jobIdOf(event, zoomUserId), 'completed');

      expect(job.opts.attempts).toBe(JOB_OPTIONS[JobName.OAuthDeauthorize]?.attempts);
      expect(job.opts.attempts).toBeGreaterThanOrEqual(10);
      expect(job.opts.backoff).toEqual({ type: 'exponential', delay: 2000 });
      expect(deletion).toHaveBeenCalledTimes(2);
      expect(job.returnvalue).toEqual({ removed: 0 });
      expect(await connectionExists(connectionId)).toBe(false);
      const revoked = await sql(`SELECT 1 FROM app_events WHERE type = 'oauth.connection.revoked' AND data->>'connection_id' = $1`, [connectionId]);
      expect(revoked).toHaveLength(1);
      expect(await storedEvent(zoomUserId)).toMatchObject({ status: 'processed', error: null });
    } finally {
      deletion.mockRestore();
    }
    await ctx.queuesIdle();
  });

  it('a late (retried) app_deauthorized leaves a connection the user authorized after it; a new removal still deletes it', async () => {
    const { zoomUserId, connectionId } = await connectedUser();
    const events = () =>
      sql<StoredEvent>(`SELECT id, status, error FROM session_events WHERE event_type = 'app_deauthorized' AND payload->'payload'->>'user_id' = $1 ORDER BY created_at, id`, [zoomUserId]);
    const handled = async (n: number) => {
      const event = (await waitFor(async () => {
        const all = await events();
        return all.length >= n && all[n - 1].status === 'processed' ? all : undefined;
      }, { what: `app_deauthorized #${n} of ${zoomUserId} to be processed` }))[n - 1];
      return waitForJobState(deauthorizeQueue(), jobIdOf(event, zoomUserId), 'completed');
    };

    // Zoom removed the app a minute ago; the user has authorized it again since (the
    // connection above), and Zoom's retry of the removal arrives only now.
    ctx.sim.sendWebhook('app_deauthorized', { account_id: ACCOUNT, user_id: zoomUserId, client_id: TEST_ZOOM_APP.clientId, deauthorization_time: new Date(Date.now() - 60_000).toISOString() });
    const late = await handled(1);
    expect(late.data).toMatchObject({ zoomUserId, deauthorizedAt: expect.any(String) });
    expect(late.returnvalue).toEqual({ removed: 0 });
    expect(await connectionExists(connectionId)).toBe(true);

    // The user removes the app again: that removal is after the consent.
    sendDeauthorized(zoomUserId);
    expect((await handled(2)).returnvalue).toEqual({ removed: 1 });
    expect(await connectionExists(connectionId)).toBe(false);
    await ctx.queuesIdle();
  });

  it('a job queued without deauthorizedAt (by an older release) deletes every connection of the user', async () => {
    const { zoomUserId, connectionId } = await connectedUser();
    const eventId = randomUUID();
    await ctx.hub.producer.enqueue(JobName.OAuthDeauthorize, { eventId, zoomUserId, zoomAccountId: ACCOUNT });
    const job = await waitForJobState(deauthorizeQueue(), jobIdFor(JobName.OAuthDeauthorize, { eventId, zoomUserId })!, 'completed');
    expect(job.returnvalue).toEqual({ removed: 1 });
    expect(await connectionExists(connectionId)).toBe(false);
    await ctx.queuesIdle();
  });

  it('a job that fails for good marks its app_deauthorized event failed and counts it; a retry that succeeds marks it processed again', async () => {
    const { zoomUserId, connectionId } = await connectedUser();
    // Fails for good once the event was handed over (in production, after about an hour of retries).
    const deletion = jest.spyOn(connections(), 'deleteConnectionsForZoomUser').mockImplementation(async () => {
      await eventInStatus(zoomUserId, 'processed');
      throw new UnrecoverableError('database unreachable');
    });
    let jobId: string;
    try {
      sendDeauthorized(zoomUserId);
      // Handled: `processed`, or already `failed` (the job may fail between two polls).
      const handled = await waitFor(async () => {
        const event = await storedEvent(zoomUserId);
        return event?.status !== 'received' ? event : undefined;
      }, { what: `the app_deauthorized event of ${zoomUserId} to be handled` });
      jobId = jobIdOf(handled, zoomUserId);
      await waitForJobState(deauthorizeQueue(), jobId, 'failed');

      expect(await eventInStatus(zoomUserId, 'failed')).toEqual({ id: handled.id, status: 'failed', error: 'oauth.deauthorize failed for good: database unreachable' });
      expect(await connectionExists(connectionId)).toBe(true);
      const metrics = await ctx.http().get('/metrics').set('x-api-key', API_KEY).expect(200);
      expect(metrics.text).toMatch(/^rtms_hub_oauth_deauthorize_failures_total 1$/m);
    } finally {
      deletion.mockRestore();
    }

    // The operator fixed the cause and retries the job (Bull Board).
    await (await deauthorizeQueue().getJob(jobId))!.retry();
    await waitForJobState(deauthorizeQueue(), jobId, 'completed');
    expect(await storedEvent(zoomUserId)).toMatchObject({ status: 'processed', error: null });
    expect(await connectionExists(connectionId)).toBe(false);
    await ctx.queuesIdle();
  });
});
