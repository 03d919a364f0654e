import { getRepositoryToken } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource, FindOneOptions, Repository } from 'typeorm';
import { QueueName } from '../src/jobs/queue-names';
import { OAuthConnectionEntity } from '../src/modules/oauth/entities/oauth-connection.entity';
import { SimUser } from '../src/simulator';
import { connectZoomUser, newZoomUser } from './factories/oauth-connection.factory';
import { createSession } from './factories/session.factory';
import { useE2eContext } from './utils/e2e-context';
import { API_KEY } from './utils/test-app';
import { waitFor, waitForJobState } from './utils/wait-for';

const REDIRECT_URI = 'https://ctx.hub.example.test/api/v1/oauth/zoom/callback';
const S2S = { clientId: 'tokep_e2e_s2s', clientSecret: 'tokep_e2e_s2s_secret', accountId: 'tokep_e2e_account' };

interface RequestRow {
  status: string;
  attempts: number;
  throttled_count: number;
  zoom_status: number | null;
  error: string | null;
}

/**
 * Zoom's token endpoint as the hub meets it: its 429s during an RTMS control call, two
 * first-time callbacks of one user at once, and a code exchange without refresh_token.
 */
describe("Zoom's token endpoint: throttling, concurrent first callbacks, incomplete answers", () => {
  const ctx = useE2eContext({
    simulator: { s2s: S2S, redirectUris: [REDIRECT_URI] },
    hub: { api: true, worker: { queues: [QueueName.RtmsControl, QueueName.ZoomEvents, QueueName.OAuth], explicit: true } },
    env: () => ({
      ZOOM_REDIRECT_URI: REDIRECT_URI,
      ZOOM_S2S_CLIENT_ID: S2S.clientId,
      ZOOM_S2S_CLIENT_SECRET: S2S.clientSecret,
      ZOOM_ACCOUNT_ID: S2S.accountId,
      ZOOM_HTTP_TIMEOUT_MS: '2000',
      // Two attempts 50 ms apart: a token-endpoint 429 that used attempts would fail in ~0.1 s.
      JOB_ATTEMPTS: '2',
      JOB_BACKOFF_MS: '50',
    }),
  });
  let db: DataSource;
  let host: SimUser;
  let connectionId: string;

  const server = () => ctx.hub.app.getHttpServer();
  const requestRow = async (id: string): Promise<RequestRow> => (await db.query('SELECT * FROM rtms_control_requests WHERE id = $1', [id]))[0] as RequestRow;
  const tokenCalls = (grant: string, since: number) =>
    ctx.sim.restLog.filter((c) => c.at >= since && c.path === '/oauth/token' && new URLSearchParams(c.body).get('grant_type') === grant);
  const patches = (meetingId: number) => ctx.sim.restLog.filter((c) => c.method === 'PATCH' && c.path === `/v2/live_meetings/${meetingId}/rtms_app/status`);
  const rowsOf = async (zoomUserId: string) =>
    (await db.query('SELECT id, token_version FROM oauth_connections WHERE zoom_user_id = $1', [zoomUserId])) as Array<{ id: string; token_version: number }>;

  async function startRtms(body: Record<string, unknown>): Promise<{ requestId: string; jobId: string; meetingId: number }> {
    const meeting = ctx.sim.createMeeting({ hostUserId: host.id, participants: [] });
    const session = await createSession(ctx.hub, { meetingId: meeting.id });
    const res = await request(server()).post(`/api/v1/sessions/${session.id}/rtms/start`).set('x-api-key', API_KEY).send(body).expect(202);
    return { requestId: res.body.request.id as string, jobId: res.body.job_id as string, meetingId: meeting.id };
  }

  async function settled(requestId: string): Promise<RequestRow> {
    return waitFor(
      async () => {
        const row = await requestRow(requestId);
        return row.status === 'succeeded' || row.status === 'failed' ? row : undefined;
      },
      { what: `control request ${requestId} to settle`, timeoutMs: 20000 },
    );
  }

  /** /authorize and Zoom's consent for `user`, up to (not including) the hub's callback. */
  async function consent(user: SimUser): Promise<string> {
    ctx.sim.setAuthorizingUser(user);
    const authorize = await request(server()).get('/api/v1/oauth/zoom/authorize').set('x-api-key', API_KEY).expect(302);
    const res = await fetch(new URL(authorize.headers.location), { redirect: 'manual' });
    expect(res.status).toBe(302);
    const callbackUrl = new URL(res.headers.get('location') ?? '');
    return callbackUrl.pathname + callbackUrl.search;
  }

  beforeAll(async () => {
    db = ctx.hub.app.get(DataSource);
    host = newZoomUser('tokep_host');
    connectionId = await connectZoomUser(ctx.hub, ctx.sim, host);
  });

  afterEach(() => {
    ctx.sim.faults.clear();
  });

  describe('429 from the token endpoint during RTMS control', () => {
    it('S2S token fetch: waits Retry-After without using an attempt, then succeeds', async () => {
      const since = Date.now();
      ctx.sim.faults.rest429('/oauth/token', 2, 2); // both attempts' worth, 2 s each
      const { requestId, jobId, meetingId } = await startRtms({});
      const row = await settled(requestId);

      expect(row).toMatchObject({ status: 'succeeded', throttled_count: 2, attempts: 1, zoom_status: 202 });
      const fetches = tokenCalls('account_credentials', since);
      expect(fetches.map((c) => c.status)).toEqual([429, 429, 200]);
      // Zoom's Retry-After was honoured, not the 50 ms job backoff.
      expect(fetches[1].at - fetches[0].at).toBeGreaterThanOrEqual(1900);
      expect(fetches[2].at - fetches[1].at).toBeGreaterThanOrEqual(1900);
      expect(patches(meetingId).map((c) => c.status)).toEqual([202]);
      const done = await waitForJobState(ctx.hub.producer.queue(QueueName.RtmsControl), jobId, 'completed');
      expect(done.attemptsMade).toBe(1);
    });

    it('user token refresh after a 401: waits Retry-After without using an attempt, then succeeds', async () => {
      const since = Date.now();
      ctx.sim.expireAccessTokens(); // Zoom rejects the stored token: the hub must refresh
      ctx.sim.faults.rest429('/oauth/token', 2, 1);
      const { requestId, jobId, meetingId } = await startRtms({ connection_id: connectionId });
      const row = await settled(requestId);

      expect(row).toMatchObject({ status: 'succeeded', throttled_count: 2, zoom_status: 202 });
      const refreshes = tokenCalls('refresh_token', since);
      expect(refreshes.map((c) => c.status)).toEqual([429, 429, 200]);
      expect(refreshes[1].at - refreshes[0].at).toBeGreaterThanOrEqual(950);
      expect(patches(meetingId).map((c) => c.status).at(-1)).toBe(202);
      const done = await waitForJobState(ctx.hub.producer.queue(QueueName.RtmsControl), jobId, 'completed');
      expect(done.attemptsMade).toBe(1);
    });
  });

  it('two first-time callbacks of one Zoom user at once both connect it (one row, no 500)', async () => {
    const user = newZoomUser('tokep_twice');
    const [a, b] = [await consent(user), await consent(user)];

    // Both callbacks read "no connection yet" before either inserts: the race, made certain.
    const repo = ctx.hub.app.get<Repository<OAuthConnectionEntity>>(getRepositoryToken(OAuthConnectionEntity));
    const findOne = repo.findOne.bind(repo);
    let reads = 0;
    let release: () => void = () => undefined;
    const bothRead = new Promise<void>((resolve) => (release = resolve));
    const spy = jest.spyOn(repo, 'findOne').mockImplementation(async (options: FindOneOptions<OAuthConnectionEntity>) => {
      const where = options.where as { zoomUserId?: string } | undefined;
      if (where?.zoomUserId !== user.id || reads >= 2) return findOne(options);
      const row = await findOne(options);
      if (++reads === 2) release();
      await Promise.race([bothRead, new Promise((r) => setTimeout(r, 5000))]);
      return row;
    });
    let answers: request.Response[];
    try {
      answers = await Promise.all([request(server()).get(a), request(server()).get(b)]);
    } finally {
      spy.mockRestore();
    }
    expect(reads).toBe(2);

    expect(answers.map((r) => r.status)).toEqual([200, 200]);
    const rows = await rowsOf(user.id);
    expect(rows).toHaveLength(1);
    expect(answers.map((r) => r.body.connection.id)).toEqual([rows[0].id, rows[0].id]);
    // The loser took the update path: the version moved on as on any re-consent.
    expect(rows[0].token_version).toBe(2);
  });

  it('a code exchange answered without refresh_token: 502 zoom_request_failed, nothing stored', async () => {
    const user = newZoomUser('tokep_norefresh');
    const path = await consent(user);
    ctx.sim.faults.restError({
      status: 200,
      match: '/oauth/token',
      body: { access_token: 'sim_at_without_refresh', token_type: 'bearer', expires_in: 3600, scope: 'user:read:user' },
    });
    const res = await request(server()).get(path).expect(502);
    expect(res.body).toMatchObject({ error: 'zoom_request_failed', details: { zoomStatus: 200, zoomMessage: 'response lacks refresh_token' } });
    expect(await rowsOf(user.id)).toEqual([]);
  });
});
